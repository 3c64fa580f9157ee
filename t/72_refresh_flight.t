# Refresh as production runs it: a private Apache on mpm_prefork with only
# the modules a new Debian server has (no socache module) plus the app's.
# Requests of one session whose access token expired share one call to
# Entra across processes; two users refresh in parallel, not in turn;
# /.auth/refresh is rate-limited per session; an Entra that cannot be
# reached to check the refresh's ID token leaves the session as it was.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();
my $P = eval {
    start_apache(name => 'prefork', mpm => 'prefork', debian_modules => 1,
                 extra => "EntraScope openid profile email offline_access\n"
                        . "EntraPassAccessToken On\nEntraHTTPTimeout 3\n")
};
ok($P, 'a prefork Apache with Debian\'s default modules (no socache module) starts') or diag($@);
plan skip_all => 'no prefork server' unless $P;

# $n requests at once, each with `Cookie: $cookie`; their responses' codes
# and access tokens, as "code token" lines.
sub at_once {
    my ($n, $path, $cookie) = @_;
    return in_parallel($n, sub {
        my $r = new_ua(no_cookies => 1, timeout => 30)->get($P->url("$path/$_[0]"), Cookie => $cookie);
        return $r->code . ' ' . (token_of($r) // '-');
    });
}

sub signed_in_cookie {
    my ($path) = @_;
    my $ua = new_ua();
    my $r = sign_in_at($ua, $P->url($path));
    return ($r, $ua, 'entra_session=' . (session_cookie($ua) // ''));
}

# ---- 12 requests of one user whose access token expired: one refresh
mock_config({ access_token_lifetime => 2 });
my ($r, $ua, $cookie) = signed_in_cookie('/app/one');
is($r->code, 200, 'signed in on the prefork server');
my $old = token_of($r);
advance_clock(2.5);    # the access tokens (2 s) expire, on the module's test clock
my $before = grants()->{refresh_token} // 0;
my @res = at_once(12, '/app/expired', $cookie);
is(scalar(grep { /^200 / } @res), 12, '12 parallel requests with an expired access token: all 200')
    or diag("@res");
is((grants()->{refresh_token} // 0) - $before, 1, '... with exactly one refresh call to Entra');
my %tokens = map { (split / /)[1] => 1 } @res;
ok(!$tokens{$old} && keys(%tokens) == 1, '... and all pass on the one new access token');

# ---- two users, Entra slow: they refresh side by side
{
    my (undef, undef, $c1) = signed_in_cookie('/app/u1');
    my (undef, undef, $c2) = signed_in_cookie('/app/u2');
    advance_clock(2.5);    # the access tokens (2 s) expire, on the module's test clock
    mock_config({ slow => { token => 2 } });
    $before = grants()->{refresh_token} // 0;
    my $t0 = time;
    my @pair = ($c1, $c2);
    my @codes = map { 0 + $_ } in_parallel(2, sub {
        return new_ua(no_cookies => 1, timeout => 30)->get($P->url('/app/slow'), Cookie => $pair[$_[0] - 1])->code;
    });
    my $took = time - $t0;
    is_deeply(\@codes, [200, 200], 'two users whose tokens expired, Entra taking 2 s: both 200');
    cmp_ok($took, '<', 3.5, sprintf('... side by side, not one after the other (%.1f s)', $took));
    is((grants()->{refresh_token} // 0) - $before, 2, '... one refresh each');
    mock_config({ slow => undef });
}

# ---- Entra unreachable (slower than EntraHTTPTimeout 3): the first refresh
# costs one timeout, the app's other sessions then do not ask for a moment
# (ENTRA00810) and go on at once with the token they have
{
    my @c = map { (signed_in_cookie("/app/down$_"))[2] } 1 .. 3;
    advance_clock(2.5);    # the access tokens (2 s) expire, on the module's test clock
    mock_config({ slow => { token => 4 } });
    $before = grants()->{refresh_token} // 0;
    my $mark = $P->log_mark;
    my $t0 = time;
    my $first = new_ua(no_cookies => 1, timeout => 30)->get($P->url('/app/down/first'), Cookie => $c[0]);
    my $t1 = time;
    my @next = map { new_ua(no_cookies => 1, timeout => 30)->get($P->url('/app/down/next'), Cookie => $c[$_]) } 1, 2;
    my $t2 = time;
    is($first->code, 200, 'Entra unreachable: the first expired session still served');
    cmp_ok($t1 - $t0, '>=', 2.5, sprintf('... after the one timeout (%.1f s)', $t1 - $t0));
    is_deeply([map { $_->code } @next], [200, 200], '... two other sessions: 200');
    cmp_ok($t2 - $t1, '<', 1.5, sprintf('... at once, no timeout each (%.1f s for both)', $t2 - $t1));
    ok(scalar(grep { /ENTRA00810:/ } $P->log_since($mark)), '... the others did not ask (ENTRA00810)');
    mock_config({ slow => undef });
    sleep 1.5;    # until the mock has answered (and counted) the call the module gave up on
    is((grants()->{refresh_token} // 0) - $before, 1, '... one call to Entra in all');
}

# ---- /.auth/refresh in a loop: one call to Entra
{
    mock_config({ access_token_lifetime => 3600 });
    my (undef, $u) = signed_in_cookie('/app/loop');
    $before = grants()->{refresh_token} // 0;
    my @codes = map { $u->get($P->url('/.auth/refresh'))->code } 1 .. 5;
    is($codes[0], 200, '/.auth/refresh: refreshed');
    is_deeply([@codes[1 .. 4]], [429, 429, 429, 429], '... asked again at once: 429, four times');
    my $again = $u->get($P->url('/.auth/refresh'));
    like($again->header('Retry-After') // '', qr/^\d+$/, '... with Retry-After');
    is((grants()->{refresh_token} // 0) - $before, 1, '... and one call to Entra in all');
    is($u->get($P->url('/app/after-loop'))->code, 200, 'the session goes on');
}

# ---- the refresh's ID token cannot be checked (Entra's keys unreachable)
{
    mock_config({ access_token_lifetime => 2 });
    my (undef, $u) = signed_in_cookie('/app/idt');
    # the access token (2 s) expires, and the breaker the unreachable Entra
    # above opened (5 s, ENTRA00810) is closed for certain: this refresh asks
    advance_clock(5.5);
    rotate_keys();                              # the refresh's ID token: a key not yet seen
    mock_config({ fail => { jwks => 503 } });   # ... that cannot be fetched
    my $mark = $P->log_mark;
    my $x = $u->get($P->url('/app/idt/now'), Accept => 'text/html');
    is($x->code, 200, 'refresh whose ID token cannot be checked: the request still served');
    ok(!is_login_redirect($u->get($P->url('/app/idt/next'), Accept => 'text/html')),
       '... and the session goes on (unavailable, not refused)');
    ok(scalar(grep { /ENTRA00808:/ } $P->log_since($mark)), '... logged (ENTRA00808)')
        or diag(join "\n", $P->log_since($mark));
    rotate_keys(restore => 1);
}

mock_reset();
done_testing();
