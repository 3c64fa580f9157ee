# Front-channel logout with the cookie store on a server as Debian ships it
# (no socache module): the sids Entra ended are remembered in shared memory of
# the module's own, across the server's processes and a graceful restart, and
# a loop of made-up sids is rate-limited (t/unit/test_ended.c: 100,000 kept,
# eviction order).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();
my $S = eval { start_apache(name => 'ended', mpm => 'prefork', debian_modules => 1) };
ok($S, 'a prefork server with Debian\'s default modules (no socache module) starts') or diag($@);
plan skip_all => 'no server' unless $S;


my $ua = new_ua();
my $r = sign_in_at($ua, $S->url('/app/before'));
is($r->code, 200, 'signed in (cookie store)');
my $sid = session_sid($r);
ok($sid, '... the session has a sid');
my $cookie = session_cookie($ua);
my $keep = new_ua();
my $other = sign_in_at($keep, $S->url('/app/other'));
is($other->code, 200, 'another user signed in too');
my $third = new_ua();
my $third_r = sign_in_at($third, $S->url('/app/third'));
is($third_r->code, 200, 'and a third');
my $third_sid = session_sid($third_r);

my $fc = front_channel_logout($S->base, $sid);
is($fc->code, 200, 'Entra\'s front-channel logout: 200');
ok(is_login_redirect(replay($cookie)->get($S->url('/app/after'), Accept => 'text/html')),
   'the ended session\'s cookie is refused (every process: prefork)');
is($keep->get($S->url('/app/other'))->code, 200, 'the other user is still signed in');

ok($S->graceful, 'a graceful restart');
for my $i (1 .. 4) {
    ok(is_login_redirect(replay($cookie)->get($S->url("/app/after-restart/$i"), Accept => 'text/html')),
       "after the restart, the ended session stays ended ($i)");
}
is($keep->get($S->url('/app/other'))->code, 200, '... and the other user stays signed in');

my $mark = $S->log_mark;
my $fast = new_ua(no_cookies => 1);
my @codes = map { front_channel_logout($S->base, random_guid(), ua => $fast)->code } 1 .. 200;
ok(scalar(grep { $_ == 429 } @codes) >= 50, '200 made-up sids as fast as they come: the excess refused (429)')
    or diag("@codes");
ok(scalar(grep { /\[auth_entra:warn\].*ENTRA00507:/ } $S->log_since($mark)), '... logged at warn (ENTRA00507)');
# the flood spent the budget of made-up sids only: Entra's real logout of a
# session this server signed in is never refused, and ends it
is(front_channel_logout($S->base, $third_sid, ua => $fast)->code, 200,
   'during the flood, a real front-channel logout: 200, not 429');
ok(is_login_redirect($third->get($S->url('/app/third-after'), Accept => 'text/html')),
   '... and that session is ended');
ok(is_login_redirect(replay($cookie)->get($S->url('/app/after-flood'), Accept => 'text/html')),
   'the real ended session is still refused');
is($keep->get($S->url('/app/other'))->code, 200, 'the flood ended no one else');
# this server started less than EntraSessionMaxAge ago: a sid it did not
# sign in may be a session signed in before the start, so within the rate
# limit it is recorded as ended too (once the server is older, it ends
# nothing and is recorded nowhere)
like(join("\n", $S->log_since($mark)), qr/ENTRA00505: front-channel logout: session ended/,
     'a young server records the made-up sids it admits (they may predate its start)');
advance_clock(1.1);    # on the module's test clock
is(front_channel_logout($S->base, random_guid())->code, 200, 'a second later: front-channel logout answers again');

mock_reset();
done_testing();
