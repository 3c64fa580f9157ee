# Two Apache servers sharing one Redis (EntraSessionStore socache redis):
# the suite's httpd and a second, private one started here with the same
# module, tenant, client, session key and Redis.  Sign in on one, be signed
# in on the other; log out on one, be logged out on both.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraStores;
use EntraSessions ();

my $U = USER;
my $A = 'entra_st_redis';
mock_reset();
my $mark = log_mark();
my $B = eval { start_apache(name => 'second', store => 'socache redis:127.0.0.1:' . redis_port()) };
ok($B, 'a second Apache sharing the Redis starts') or diag($@);
plan skip_all => 'no second server' unless $B;
my $bmark = $B->log_mark;

sub user_of   { scalar echo_header(echo(shift) || {}, 'X-Test-Remote-User') }
sub server_of { scalar echo_header(echo(shift) || {}, 'X-Test-Server') }

# ---- sign in on A, signed in on B (one browser: cookies are per host, not port)
my $ua = new_ua();
my $ra = sign_in($ua, $A, '/app/on-a');
is($ra->code, 200, 'signed in on server A');
my $cookie = session_cookie($ua);
ok($cookie, '... the browser holds the session cookie');
my $sid = session_sid($ra);
ok($sid, '... with a sid claim');

my $stats = mock_stats()->{requests};
my $rb = $ua->get($B->url('/app/on-b'));
is($rb->code, 200, 'the same browser on server B: 200, no sign-in');
is(server_of($rb), 'second', '... answered through server B');
is(user_of($rb), $U->{preferred_username}, '... as the same user');
is(session_sid($rb), $sid, '... in the same session (same sid)');
is_deeply(mock_stats()->{requests}, $stats, '... and server B asked the IdP nothing');
is(replay($cookie)->get($B->url('/app/replay'))->code, 200,
   'the cookie alone, in another browser, opens server B too');

# a second user, signed in on B, is not touched by the first one's logout
my $ub = new_ua();
my $r2 = sign_in_at($ub, $B->url('/app/user2'));
is($r2->code, 200, 'a second browser signs in on server B');
is(server_of($r2), 'second', '... through server B');
my $cookie2 = session_cookie($ub);
is($ub->get(url($A, '/app/user2-on-a'))->code, 200, '... and is signed in on server A too');

# ---- log out on B: logged out on both
my $out = $ua->get($B->url('/.auth/logout'), SAME_SITE);
is($out->code, 302, 'logout on server B -> 302');
like(find_set_cookie($out, 'entra_session') // '', qr/;\s*Max-Age=0\b/i, '... clears the cookie');
my $a_after = replay($cookie)->get(url($A, '/app/after'));
ok(is_login_redirect($a_after), 'the old cookie on server A after logout on B -> 302 to sign-in')
    or diag($a_after->status_line);
my $b_after = replay($cookie)->get($B->url('/app/after'));
ok(is_login_redirect($b_after), 'the old cookie on server B -> 302 to sign-in')
    or diag($b_after->status_line);
is(replay($cookie2)->get(url($A, '/app/other'))->code, 200,
   'the other user is still signed in on server A');
is(replay($cookie2)->get($B->url('/app/other'))->code, 200, '... and on server B');

# ---- the other way round: sign in on B, log out on A
my $uc = new_ua();
my $rc = sign_in_at($uc, $B->url('/app/on-b'));
is($rc->code, 200, 'signed in on server B');
my $cookie3 = session_cookie($uc);
my $ca = $uc->get(url($A, '/app/on-a'));
is($ca->code, 200, '... signed in on server A');
is(session_sid($ca), session_sid($rc), '... in the same session');
is($uc->get(url($A, '/.auth/logout'), SAME_SITE)->code, 302, 'logout on server A');
ok(is_login_redirect(replay($cookie3)->get($B->url('/app/'))),
   'the old cookie on server B after logout on A -> 302 to sign-in');
ok(is_login_redirect(replay($cookie3)->get(url($A, '/app/'))), '... and on server A');

# ---- one session's requests at once, on server B (one process, many
# threads): those under way together share one lookup in Redis, and a
# request that comes alone asks again, so a logout on A holds at once
sub redis_gets {
    my ($line) = grep { /^cmdstat_get:/ } redis_cmd('INFO', 'commandstats');
    return $line && $line =~ /calls=(\d+)/ ? $1 : 0;
}
my $ue = new_ua();
is(sign_in_at($ue, $B->url('/app/burst'))->code, 200, 'a fourth browser signs in on server B');
my $cookie4 = session_cookie($ue);
my $gets = redis_gets();
my @bursts = EntraSessions::in_parallel(8, sub {
    my $ua = replay($cookie4);
    return join ',', map { $ua->get($B->url("/app/burst-$_"))->code } 1 .. 25;
});
is_deeply([grep { $_ ne join(',', (200) x 25) } @bursts], [],
          '200 requests of that session, 8 at a time, on server B: all 200');
my $asked = redis_gets() - $gets;
cmp_ok($asked, '<', 200, "... and server B asked Redis fewer times ($asked)");
is($ue->get(url($A, '/.auth/logout'), SAME_SITE)->code, 302, 'that browser logs out on server A');
ok(is_login_redirect(replay($cookie4)->get($B->url('/app/after-burst'))),
   '... and the next request on server B is refused at once');

# ---- the same on mpm_prefork: a process serves one request at a time and
# its own answers are older than 4 ms by its next one, so it asks Redis
# for each; the requests under way counted across the processes must not
# make a stale one pass
my $P = eval { start_apache(name => 'prefork_redis', mpm => 'prefork',
                            store => 'socache redis:127.0.0.1:' . redis_port()) };
ok($P, 'a third server sharing the Redis, on mpm_prefork, starts') or diag($@);
if ($P) {
    my $uf = new_ua();
    is(sign_in_at($uf, $P->url('/app/burst'))->code, 200, 'a fifth browser signs in on it');
    my $cookie5 = session_cookie($uf);
    $gets = redis_gets();
    @bursts = EntraSessions::in_parallel(8, sub {
        my $ua = replay($cookie5);
        return join ',', map { $ua->get($P->url("/app/burst-$_"))->code } 1 .. 25;
    });
    is_deeply([grep { $_ ne join(',', (200) x 25) } @bursts], [],
              '200 requests of that session, 8 at a time, on prefork: all 200');
    is($uf->get($B->url('/.auth/logout'), SAME_SITE)->code, 302, 'that browser logs out on server B');
    ok(is_login_redirect(replay($cookie5)->get($P->url('/app/after-burst'))),
       '... and the next request on the prefork server is refused at once');
    $P->stop;
}

# ---- a server with another session key shares the Redis but opens nothing
my $C = eval { start_apache(name => 'otherkey', key => KEY_OTHER,
                            store => 'socache redis:127.0.0.1:' . redis_port()) };
ok($C, 'a third server with another EntraSessionKey starts') or diag($@);
if ($C) {
    my $r = replay($cookie2)->get($C->url('/app/foreign'));
    ok(is_login_redirect($r), '... a session of the others is not open there: 302 to sign-in')
        or diag($r->status_line);
    $C->stop;
}

$ub->get(url($A, '/.auth/logout'), SAME_SITE);
is_deeply([entra_problems($mark)], [], 'no warn/error lines from the module on server A');
my @bproblems = grep { /\[auth_entra:(?:emerg|alert|crit|error|warn)\]/ } $B->log_since($bmark);
is_deeply(\@bproblems, [], '... nor on server B');
$B->stop;

done_testing();
