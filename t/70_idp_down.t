# Entra goes down after the user signed in: the open session keeps working,
# with no IdP traffic at all.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;

mock_reset();
my $ua = new_ua();
is(sign_in($ua, 'entra_main', '/app/before')->code, 200, 'signed in on entra_main');
my $ub = new_ua();
is(sign_in($ub, 'entra_basic', '/app/before')->code, 200, 'signed in on entra_basic');

my @eps = qw(discovery jwks authorize token userinfo graph logout);
my $before = mock_stats()->{requests};
mock_config({ fail => { map { $_ => 503 } @eps } });
# fail answers 503; drop makes any call hang up without an answer: both at once
# is not possible per endpoint, so first fail ...
for my $i (1 .. 3) {
    my $r = $ua->get(url('entra_main', "/app/during/$i"));
    is($r->code, 200, "IdP failing (503): signed-in request $i served");
    is(scalar echo_header(echo($r) || {}, 'X-Test-Remote-User'), USER->{preferred_username}, '... as Adele');
}
is($ub->get(url('entra_basic', '/app/during'))->code, 200, 'IdP failing: the other vhost\'s session works too');
# ... then hang up on everything
mock_reset();
mock_config({ drop => { map { $_ => JSON::PP::true() } @eps } });
my $r = $ua->get(url('entra_main', '/app/during/drop'));
is($r->code, 200, 'IdP hanging up: signed-in request served');
is_deeply({ map { $_ => mock_stats()->{requests}{$_} } @eps }, { map { $_ => 0 } @eps },
          'not one IdP request for signed-in traffic');

# a new visitor while the IdP is down: the metadata is cached, so the
# module sends the browser to Entra (no 502, never a 500, never let in)
my $anon = new_ua();
my $n = $anon->get(url('entra_main', '/app/newcomer'));
ok(is_login_redirect($n), 'new visitor while the IdP is down: sign-in redirect (cached metadata)')
    or diag($n->status_line);

mock_reset();
is($ua->get(url('entra_main', '/app/after'))->code, 200, 'IdP back: session still fine');

done_testing();
