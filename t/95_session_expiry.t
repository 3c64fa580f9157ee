# An expired session (EntraSessionMaxAge 60 on entra_shortsession) is no
# session: a new sign-in, not an error.  The minute passes on the module's
# test clock (EntraTest::advance_clock), not in a real wait.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;

my $vh = 'entra_shortsession';
mock_reset();

my $ua = new_ua();
is(sign_in($ua, $vh, '/app/expiry')->code, 200, 'signed in on entra_shortsession');
my $cookie = cookie_value($ua, 'entra_session');
ok($cookie, 'have a session cookie from entra_shortsession') or BAIL_OUT('no session to expire');

my $raw = new_ua(no_cookies => 1);
advance_clock(50);
my $r = $raw->get(url($vh, '/app/expiry'), Cookie => "entra_session=$cookie");
is($r->code, 200, 'before max age (50 s): the session works');

advance_clock(12);
my $mark = log_mark();
$r = $raw->get(url($vh, '/app/expiry'), Cookie => "entra_session=$cookie");
ok(is_login_redirect($r), 'after EntraSessionMaxAge (62 s): 302 to sign-in') or diag($r->status_line);
my @crit = grep { /\[auth_entra:(?:emerg|alert|crit|error)\]/ } log_since($mark);
is(scalar @crit, 0, 'an expired session is not an error in the log') or diag(join "\n", @crit);

# and a new sign-in works
is(sign_in(new_ua(), $vh, '/app/expiry')->code, 200, 'signing in again works');

done_testing();
