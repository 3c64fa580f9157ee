# EntraSessionMaxAge is a hard end: a session in use, its cookie sealed
# again on the way (here by an access-token refresh), still ends 10 s after
# the sign-in (sess_maxage: EntraSessionMaxAge 10, the shortest allowed).
# The seconds pass on the module's test clock (EntraTest::advance_clock).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;

use constant MAX_AGE => 10;
my $vh = 'sess_maxage';
mock_reset();
past_refresh_breaker();
mock_config({ access_token_lifetime => 120 });    # every refresh leaves the token due again

my $signin = new_ua();
my $first = sign_in($signin, $vh, '/app/maxage');
is($first->code, 200, 'signed in on sess_maxage');
my ($t0, $cookie, $token) = (clock_now(), cookie_value($signin, 'entra_session'),
                             backend_header($first, 'X-Entra-Access-Token'));
ok($cookie, 'a session on sess_maxage') or BAIL_OUT('no session');

# in use before the hard end; a refresh seals the cookie again (asked for:
# /.auth/refresh calls Entra whatever another file's unreachable Entra left)
my $ua = new_ua();
set_cookie($ua, 'entra_session', $cookie);
my $rf = $ua->get(url($vh, '/.auth/refresh'));
is($rf->code, 200, 'before EntraSessionMaxAge: /.auth/refresh refreshes');
my $new = find_set_cookie($rf, 'entra_session');
ok($new, '... the cookie was sealed again (access token refreshed)');
my $r = $ua->get(url($vh, '/app/maxage/1'), Accept => 'text/html');
is($r->code, 200, 'before EntraSessionMaxAge: signed in');
my $t2 = backend_header($r, 'X-Entra-Access-Token');
ok($t2 && $t2 ne ($token // ''), '... and the backend got a refreshed token');
my $resealed = cookie_value($ua, 'entra_session');
isnt($resealed, $cookie, 'the browser now holds the new cookie');

# keep it busy until just before the end
while (clock_now() < $t0 + MAX_AGE - 2) {
    advance_clock(1 < $t0 + MAX_AGE - 2 - clock_now() ? 1 : $t0 + MAX_AGE - 2 - clock_now());
    my $x = $ua->get(url($vh, '/app/maxage/busy'), Accept => 'text/html');
    if ($x->code != 200) {
        fail(sprintf 'busy at +%.0f s: %s', clock_now() - $t0, $x->status_line);
        last;
    }
}
$resealed = cookie_value($ua, 'entra_session');

my $wait = $t0 + MAX_AGE + 1.5 - clock_now();
advance_clock($wait) if $wait > 0;
my $mark = log_mark();
$r = raw_get($vh, '/app/maxage/2', "entra_session=$resealed", Accept => 'text/html');
ok(is_login_redirect($r), 'after EntraSessionMaxAge, the re-sealed cookie: sign in again') or diag($r->status_line);
$r = raw_get($vh, '/app/maxage/2', "entra_session=$cookie", Accept => 'text/html');
ok(is_login_redirect($r), '... the first cookie too');
$r = raw_get($vh, '/app/maxage/2', "entra_session=$resealed", 'X-Requested-With' => 'XMLHttpRequest');
ok(is_api_challenge($r), '... a script: 401');
is(raw_get($vh, '/.auth/me', "entra_session=$resealed")->code, 401, '... /.auth/me: 401');
is(raw_get($vh, '/.auth/refresh', "entra_session=$resealed")->code, 401, '... /.auth/refresh cannot revive it: 401');
my @err = grep { /\[auth_entra:(?:emerg|alert|crit|error)\]/ } log_since($mark);
is(scalar @err, 0, 'an expired session is not an error in the log') or diag(join "\n", @err);

is(sign_in(new_ua(), $vh, '/app/maxage')->code, 200, 'signing in again works');

done_testing();
