# EntraSessionInactivityTimeout (sliding): a session in use lives on past
# the timeout, an idle gap longer than it ends the session; the cookie is
# sealed again as it slides, but not on every request.  Time passes on the
# module's test clock (EntraTest::advance_clock), not in real sleeps.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;

mock_reset();
my $mark = log_mark();

my $vh = 'sess_idle';    # EntraSessionInactivityTimeout 3
my $ua = new_ua();
my ($final, $s) = sign_in($ua, $vh, '/app/idle');
is($final->code, 200, 'signed in on sess_idle');
my $first = cookie_value($ua, 'entra_session') // '';
my $t0 = clock_now();

# ---- in use: a request every second for 6 s (twice the timeout)
my (@codes, $resealed);
for my $i (1 .. 6) {
    advance_clock(1);
    my $r = $ua->get(url($vh, "/app/idle/$i"), Accept => 'text/html');
    push @codes, $r->code;
    $resealed++ if find_set_cookie($r, 'entra_session');
}
is_deeply(\@codes, [(200) x 6], 'a request every second keeps the session alive past the 3 s timeout')
    or diag("codes: @codes");
ok($resealed, 'the cookie was sealed again as the session slid');
cmp_ok(clock_now() - $t0, '>', 5, '... and the session is now older than the timeout');

# the cookie from the sign-in has been idle all this time
my $r = raw_get($vh, '/app/idle', "entra_session=$first", Accept => 'text/html');
ok(is_login_redirect($r), 'the first cookie, unused for more than 3 s: sign in again')
    or diag($r->status_line);

# ---- idle for 5 s: the session ends
advance_clock(5);
$r = $ua->get(url($vh, '/app/idle/after'), Accept => 'text/html');
ok(is_login_redirect($r), 'after 5 s idle: a browser is sent to sign in') or diag($r->status_line);
$r = $ua->get(url($vh, '/app/idle/after'), 'X-Requested-With' => 'XMLHttpRequest');
ok(is_api_challenge($r), '... a script gets 401') or diag($r->status_line);
is($ua->get(url($vh, '/.auth/me'))->code, 401, '... /.auth/me: 401');

# a new sign-in works at once
is(sign_in(new_ua(), $vh, '/app/idle')->code, 200, 'signing in again works');

# ---- the default timeout (3600 s) does not re-seal the cookie on every request
{
    my $b = new_ua();
    is(sign_in($b, 'sess_app', '/app/quiet')->code, 200, 'sess_app: signed in');
    my @sc = map { find_set_cookie($b->get(url('sess_app', "/app/quiet/$_")), 'entra_session') } 1 .. 3;
    ok(!grep({ defined } @sc), 'three quick requests: no new session cookie each time');
}

my @errors = grep { /\[auth_entra:(?:emerg|alert|crit|error)\]/ } log_since($mark);
is(scalar @errors, 0, 'an idle session ending is not an error in the log') or diag(join "\n", @errors);

done_testing();
