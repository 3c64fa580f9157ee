# A user in 5,000 groups (overage, resolved through Graph) with a socache
# store (shmcb, Redis, memcached): the session keeps every group, in parts
# (a sealed record of ~140 kB, more than one value the stores take), and
# Require entra-group is right for any of them, negated too, named by the
# configuration or only by an .htaccess file, on every request after the
# sign-in. The backend gets the groups the configuration names and the
# partial marker (a 190 kB header is more than backends take). A record
# with a part missing is no session; logout removes every part; a small
# session is still one key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use Apache::Test ();
use EntraTest;
use EntraStores;

sub g77 { sprintf '77000000-0000-4000-8000-%012d', shift }    # named in groups_socache.conf.in
my ($first, $mid, $last, $none) = (g77(1), g77(2500), g77(5000), '77000000-0000-4000-8000-0000000dead0');
# group object ids are random: they do not deflate away
srand(77);
my @random = map { random_guid($_) } 1 .. 4997;
my @groups = ($first, @random[0 .. 2497], $mid, @random[2498 .. 4996], $last);
is(scalar @groups, 5000, 'the user is in 5,000 groups');
# named by no Require line of the configuration: only by .htaccess
my ($only_ht, $only_ht2) = ($random[1234], $random[4321]);

# .htaccess files (read per request; the server's configuration never
# sees them, so a session that kept only the named groups could not tell)
my $docroot = Apache::Test::vars('documentroot');
my %htaccess = (
    member   => "Require entra-group $only_ht\n",
    claim    => "Require entra-claim groups:$only_ht2\n",
    nonmember => "Require entra-group $none\n",
    not      => "<RequireAll>\n    Require valid-user\n    Require not entra-group $only_ht\n</RequireAll>\n",
);
for my $d (keys %htaccess) {
    make_path("$docroot/g77/$d");
    for (['.htaccess', $htaccess{$d}], ['index.html', "g77 $d\n"]) {
        open my $fh, '>', "$docroot/g77/$d/$_->[0]" or die "$docroot/g77/$d/$_->[0]: $!";
        print $fh $_->[1];
        close $fh;
    }
}

# mod_socache_redis names keys <namespace>:<hex of the module's key>
sub decode_key {
    my $k = shift;
    return $k =~ /^([^:]+):((?:[0-9a-f]{2})+)$/ ? pack('H*', $2) : $k;
}
sub is_main_key { $_[0] =~ /^[A-Za-z0-9_-]{40,}\..+\.s$/ }
# a piece: <byte><generation><i>.<the session's key>
sub part_of { $_[0] =~ /^[0-o][A-Za-z0-9_-]{8}\d+\.([A-Za-z0-9_-]{40,}\..+\.s)$/ ? $1 : undef }

sub codes {
    my ($ua, $vh, @paths) = @_;
    return join ' ', map { $ua->get(url($vh, $_))->code } @paths;
}

sub user_with_many_groups {
    mock_reset();
    mock_config({ user => { groups => \@groups } });
}

for my $store (qw(shmcb redis memcache)) {
    my $vh = "g_$store";
    user_with_many_groups();
    my %before = $store eq 'redis' ? map { $_ => 1 } redis_keys() : ();
    my $mark = log_mark();
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/first');
    is($r->code, 200, "$store: a user in 5,000 groups signs in") or diag($r->status_line);
    ok(mock_stats()->{requests}{graph_groups} >= 1, "$store: ... the groups read from Graph");
    my $e = echo($r) || {};
    my $h = echo_header($e, 'X-Entra-Claim-groups') // '';
    is_deeply([sort split /,/, $h], [sort($first, $mid, $last)],
              "$store: the backend gets the groups the Require lines name");
    like(echo_header($e, 'X-Entra-Claim-groups-partial') // '', qr/^[0-9a-f]{16}$/,
         "$store: ... and X-Entra-Claim-groups-partial");
    ok(scalar(grep { /ENTRA00216:.*5000 groups/ } log_since($mark)), "$store: ... logged (ENTRA00216)");

    # several requests after the sign-in, each Require line answered from
    # the whole list
    for my $round (1 .. 3) {
        is(codes($ua, $vh, '/app/first/x', '/app/mid/x', '/app/last/x', '/app/claim-last/x',
                 '/app/not-none/x'),
           '200 200 200 200 200', "$store, request round $round: the 1st, 2,500th and 5,000th group, "
                                  . "entra-claim groups:, Require not <another group>: 200");
        is(codes($ua, $vh, '/app/none/x', '/app/not-mid/x'), '403 403',
           "$store, request round $round: a group the user is not in, Require not <the user's>: 403");
    }
    is(codes($ua, $vh, '/g77/member/', '/g77/claim/'), '200 200',
       "$store: .htaccess Require entra-group / entra-claim groups: of groups no configuration "
       . 'names: 200');
    is(codes($ua, $vh, '/g77/nonmember/', '/g77/not/'), '403 403',
       "$store: .htaccess: a group the user is not in, Require not <the user's>: 403");

    my $cookie = session_cookie($ua);
    cmp_ok(length($cookie // ''), '<=', 200, "$store: the cookie stays small");
    is(replay($cookie)->get(url($vh, '/app/last/replay'))->code, 200,
       "$store: the cookie alone (another browser) is the session");
    is_deeply([entra_problems($mark)], [], "$store: no warn/error lines from the module");

    my ($main, @parts);
    if ($store eq 'redis') {
        my @new = grep { !$before{$_} } redis_keys();
        my %by = map { decode_key($_) => $_ } @new;
        ($main) = grep { is_main_key($_) } keys %by;
        @parts = grep { my $m = part_of($_); $m && $main && $m eq $main } keys %by;
        ok($main, "redis: the session's key") or diag(join "\n", keys %by);
        cmp_ok(scalar @parts, '>=', 2, 'redis: ... and ' . scalar(@parts) . ' parts of it');
        my $head = $main ? redis_cmd('GET', $by{$main}) : '';
        like($head, qr/^parts:\d+:[A-Za-z0-9_-]{8}:/, 'redis: the session key holds the head');
        my ($n) = $head =~ /^parts:(\d+):/;
        is($n, @parts + 1, 'redis: ... naming every part');
        my @sizes = map { length scalar redis_cmd('GET', $by{$_}) } @parts;
        ok(!grep({ $_ > 48 * 1024 } @sizes) && length $head <= 48 * 1024 + 32,
           'redis: no part over 48 kB (the head: and its "parts:<n>:<gen>:")')
            or diag('parts: ' . join(' ', @sizes) . ', head: ' . length $head);
        my @ttl = map { scalar redis_cmd('TTL', $by{$_}) } $main, @parts;
        ok(!grep({ !($_ > 0) } @ttl), 'redis: every part expires') or diag("@ttl");
        @parts = map { $by{$_} } @parts;
        $main = $by{$main};
    }

    # logout removes the session, every part of it
    my $out = $ua->get(url($vh, '/.auth/logout'), SAME_SITE);
    is($out->code, 302, "$store: logout -> 302");
    my $old = replay($cookie)->get(url($vh, '/app/first/after-logout'));
    ok(is_login_redirect($old), "$store: the old cookie after logout -> 302 to sign-in")
        or diag($old->status_line);
    if ($store eq 'redis') {
        my %now = map { $_ => 1 } redis_keys();
        is_deeply([grep { $now{$_} } $main // (), @parts], [],
                  'redis: the session key and all its parts are gone after logout');
    }
}

# ---- a part missing: no session, never a part of one
{
    user_with_many_groups();
    my %before = map { $_ => 1 } redis_keys();
    my $ua = new_ua();
    is(sign_in($ua, 'g_redis', '/app/first')->code, 200, 'redis: signed in again');
    my @parts = grep { !$before{$_} && part_of(decode_key($_)) } redis_keys();
    cmp_ok(scalar @parts, '>=', 2, 'redis: ... in parts');
    is(redis_cmd('DEL', $parts[-1]), 1, 'redis: one part deleted');
    my $mark = log_mark();
    my $r = $ua->get(url('g_redis', '/app/first/torn'));
    ok(is_login_redirect($r), 'a record with a part missing: 302 to sign-in') or diag($r->status_line);
    $r = $ua->get(url('g_redis', '/app/mid/torn'), 'X-Requested-With' => 'XMLHttpRequest');
    is($r->code, 401, '... 401 to a script');
    $r = $ua->get(url('g_redis', '/app/not-none/torn'));
    ok(is_login_redirect($r), '... never a user without groups: 302 to sign-in') or diag($r->status_line);
    ok(scalar(grep { /\[auth_entra:info\].*ENTRA00421:/ } log_since($mark)), '... logged at info (ENTRA00421)');
    is_deeply([entra_problems($mark)], [], '... at info level');
}

# ---- saved again (a sliding inactivity timeout): a new record in new
# parts, the old parts removed; front-channel logout removes every part
{
    user_with_many_groups();
    my %before = map { $_ => 1 } redis_keys();
    my $ua = new_ua();
    my ($r, $s) = sign_in($ua, 'g_idle', '/app/last');
    is($r->code, 200, 'sliding timeout: signed in');
    my $sid = session_sid($r);
    my @old = grep { !$before{$_} && part_of(decode_key($_)) } redis_keys();
    cmp_ok(scalar @old, '>=', 2, '... in parts');
    advance_clock(2);    # on the module's test clock
    is($ua->get(url('g_idle', '/app/last/touched'))->code, 200, '... a request a while later: 200');
    my %now = map { $_ => 1 } redis_keys();
    my @new = grep { !$before{$_} && part_of(decode_key($_)) } keys %now;
    is(scalar(grep { $now{$_} } @old), 0, '... the session saved again: its old parts removed');
    is(scalar @new, scalar @old, '... as many new ones');
    is($ua->get(url('g_idle', '/app/last/again'))->code, 200, '... and the session is whole');
    {
        ok($sid, '... the session has a sid (X-Entra-Claim-sid)');
        my $fc = front_channel_logout(base_url('g_idle'), $sid);
        is($fc->code, 200, 'front-channel logout by sid: 200');
        %now = map { $_ => 1 } redis_keys();
        is(scalar(grep { $now{$_} } @new), 0, '... removes every part');
        ok(is_login_redirect($ua->get(url('g_idle', '/app/last/ended'))), '... and the session');
    }
}

# ---- small sessions: one key, as always
{
    mock_reset();
    my %before = map { $_ => 1 } redis_keys();
    my $ua = new_ua();
    is(sign_in($ua, 'g_redis', '/app/small')->code, 200, 'redis: a user in two groups signs in');
    my @new = map { decode_key($_) } grep { !$before{$_} } redis_keys();
    my @main = grep { is_main_key($_) } @new;
    is(scalar @main, 1, 'redis: ... one session key');
    is_deeply([grep { part_of($_) } @new], [], '... and no parts');
    my ($k) = grep { is_main_key(decode_key($_)) && !$before{$_} } redis_keys();
    unlike(scalar redis_cmd('GET', $k), qr/^parts:/, '... the sealed session itself');
    my $e = echo($ua->get(url('g_redis', '/app/small/again'))) || {};
    is_deeply([sort split /,/, echo_header($e, 'X-Entra-Claim-groups') // ''], [sort @{ USER->{groups} }],
              '... whose groups all reach the backend');
    ok(!defined echo_header($e, 'X-Entra-Claim-groups-partial'), '... with no partial marker');
}
mock_reset();

done_testing();
