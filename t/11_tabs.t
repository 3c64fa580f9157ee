# Several tabs of one browser sign in at once: each login attempt has its
# own state, and finishing one does not break the others.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use EntraTest;

mock_reset();
my $vh = 'entra_main';
my $ua = new_ua();
my @paths = ('/app/tab/one?t=1', '/app/tab/two?t=2', '/app/tab/three');

# all three tabs hit a protected page before any of them comes back
my @start;
push @start, start_login($ua, $vh, $_) for map { "$_" } @paths;   # copies: never alias @paths
is_deeply([map { $_->code } @start], [302, 302, 302], 'three tabs: each redirected to Entra');
my @state = map { query_params(abs_location($_) // '')->{state} // '' } @start;
is(scalar(keys %{{ map { $_ => 1 } @state }}), 3, 'three different states');
for my $i (0 .. 2) {
    ok(defined cookie_value($ua, "entra_session_state_$state[$i]"), "tab $i: state cookie held by the browser");
}

# all three are at Entra (codes issued) before any callback
my @authz;
push @authz, authorize_at_mock($ua, $start[$_]) for 0 .. $#start;
is_deeply([map { $_->code } @authz], [302, 302, 302], 'Entra sends all three back');

# callbacks in a different order than the logins were started
my %pending = map { $_ => 1 } 0 .. 2;
for my $i (1, 2, 0) {
    delete $pending{$i};
    my $cb = finish_callback($ua, $authz[$i]);
    is($cb->code, 302, "tab $i: callback -> 302");
    my $back = abs_location($cb) // '';
    is(URI->new($back)->canonical->as_string, URI->new(url($vh, $paths[$i]))->canonical->as_string,
       "tab $i: back to its own original URL");
    my $final = follow($ua, $cb);
    is($final->code, 200, "tab $i: page served");
    is((echo($final) || {})->{path}, URI->new($paths[$i])->path, "tab $i: backend got its path");
    ok(!defined cookie_value($ua, "entra_session_state_$state[$i]"), "tab $i: its state cookie is gone");
    for my $j (sort keys %pending) {
        # the tabs that have not come back yet keep theirs
        ok(defined cookie_value($ua, "entra_session_state_$state[$j]"), "tab $i: tab $j still has its state cookie");
    }
}

# two browsers at once: each gets its own user session
mock_reset();
my ($ua1, $ua2) = (new_ua(), new_ua());
my $s1 = start_login($ua1, $vh, '/app/b1');
my $s2 = start_login($ua2, $vh, '/app/b2');
my $a1 = authorize_at_mock($ua1, $s1);
my $a2 = authorize_at_mock($ua2, $s2);
my $c1 = finish_callback($ua1, $a1);     # the mock mints tokens at the token call
mock_config({ user => { preferred_username => 'bob@contoso.test', oid => '00000000-0000-0000-0000-00000000b0b0' } });
my $c2 = finish_callback($ua2, $a2);
my $f2 = follow($ua2, $c2);
my $f1 = follow($ua1, $c1);
is(scalar echo_header(echo($f1) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, 'browser 1 signed in as Adele');
is(scalar echo_header(echo($f2) || {}, 'X-Test-Remote-User'), 'bob@contoso.test', 'browser 2 signed in as Bob');
mock_reset();

done_testing();
