# Front-channel logout: Entra loads GET /.auth/logout?sid=<sid> in a hidden
# iframe on its own page, so the request is cross-site and carries no cookie
# (third-party cookies are blocked), and Entra expects 200.  With the socache
# stores the session is found by sid and ended on every server; with the
# cookie store the sid is recorded and that session's cookies are refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use EntraStores;
use Time::HiRes qw(sleep);

# mod_socache_redis keys are "<tag>:<hex of the module's key>"
sub decode_key {
    my $k = shift;
    return $k =~ /^([^:]+):((?:[0-9a-f]{2})+)$/ ? "$1:" . pack('H*', $2) : $k;
}

my $U = USER;

# The answer Entra's frame must get: 200, no confirmation page, no redirect
sub fc_ok {
    my ($r, $name) = @_;
    is($r->code, 200, "$name: front-channel logout -> 200") or diag($r->status_line);
    my $body = $r->decoded_content // '';
    unlike($body, qr/<form\b|Sign out\?/i, "$name: ... not the cross-site confirmation page")
        or diag(substr($body, 0, 300));
    ok(!location($r), "$name: ... and no redirect");
}

mock_reset();
my $mark = log_mark();

# ---- a control: a cross-site logout without sid is still asked to confirm
{
    my $ua = new_ua();
    is(sign_in($ua, 'entra_st_redis', '/app/')->code, 200, 'control: signed in');
    my $r = $ua->get(url('entra_st_redis', '/.auth/logout'), 'Sec-Fetch-Site' => 'cross-site');
    is($r->code, 200, 'control: a cross-site logout without sid -> 200 ...');
    like($r->decoded_content // '', qr/<form\b/i, '... the confirmation page');
    is($ua->get(url('entra_st_redis', '/app/'))->code, 200, '... and the session is not ended');
}

# ---- Redis, two servers
my $B = eval { start_apache(name => 'fc', store => 'socache redis:127.0.0.1:' . redis_port()) };
ok($B, 'a second Apache sharing the Redis starts') or diag($@);
SKIP: {
    skip 'no second server', 14 unless $B;
    my $A = 'entra_st_redis';
    my %before = map { $_ => 1 } redis_keys();
    my $ua = new_ua();
    my $r = sign_in($ua, $A, '/app/fc');
    is($r->code, 200, 'redis: signed in on server A');
    my $sid = session_sid($r) // '';
    like($sid, qr/^[0-9a-f-]{36}$/, 'redis: the backend saw the sid claim');
    my $cookie = session_cookie($ua);
    my @mine = grep { !$before{$_} } redis_keys();
    cmp_ok(scalar @mine, '>=', 1, 'redis: the session is in Redis');
    is($ua->get($B->url('/app/fc'))->code, 200, 'redis: ... signed in on server B too');

    my $other = new_ua();
    my $ro = sign_in_at($other, $B->url('/app/other'));
    is($ro->code, 200, 'redis: another user signed in (on server B)');
    isnt(session_sid($ro), $sid, '... with another sid');

    # Entra's frame reaches server B
    fc_ok(front_channel_logout($B->base, $sid), 'redis, server B');
    my $on_a = replay($cookie)->get(url($A, '/app/after'));
    ok(is_login_redirect($on_a), 'redis: the cookie on server A -> 302 to sign-in')
        or diag($on_a->status_line);
    my $on_b = $ua->get($B->url('/app/after'));
    ok(is_login_redirect($on_b), 'redis: the browser on server B -> 302 to sign-in')
        or diag($on_b->status_line);
    my %now = map { $_ => 1 } redis_keys();
    # (a used state's marker, <hash>.<app>.st, stays until the state expires)
    is_deeply([grep { $now{$_} && decode_key($_) !~ /\.st$/ } @mine], [],
              "redis: the session's keys are gone from Redis");
    is($other->get(url($A, '/app/other'))->code, 200, 'redis: the other user still works on server A');
    is($other->get($B->url('/app/other'))->code, 200, '... and on server B');

    # and the other way: Entra's frame reaches server A for the session from B
    fc_ok(front_channel_logout(base_url($A), session_sid($ro)), 'redis, server A');
    ok(is_login_redirect($other->get($B->url('/app/other'))),
       'redis: the session signed in on B is refused on server B');
    $B->stop;
}

# ---- one server: shmcb, memcache
for my $store (qw(shmcb memcache)) {
    my $vh = "entra_st_$store";
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/fc');
    is($r->code, 200, "$store: signed in");
    my $sid = session_sid($r) // '';
    my $cookie = session_cookie($ua);
    my $other = new_ua();
    is(sign_in($other, $vh, '/app/other')->code, 200, "$store: another user signed in");
    fc_ok(front_channel_logout(base_url($vh), $sid), $store);
    ok(is_login_redirect(replay($cookie)->get(url($vh, '/app/after'))),
       "$store: the session's cookie -> 302 to sign-in");
    is($other->get(url($vh, '/app/other'))->code, 200, "$store: the other user still works");
}

# ---- the default cookie store: the sid is recorded as ended
{
    my $vh = 'entra_st_cookie';
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/fc');
    is($r->code, 200, 'cookie store: signed in');
    my $sid = session_sid($r) // '';
    my $cookie = session_cookie($ua);
    my $other = new_ua();
    my $ro = sign_in($other, $vh, '/app/other');
    is($ro->code, 200, 'cookie store: another user signed in');
    isnt(session_sid($ro), $sid, '... with another sid');
    is($ua->get(url($vh, '/app/before'))->code, 200, 'cookie store: signed in before the logout');

    fc_ok(front_channel_logout(base_url($vh), $sid), 'cookie store');
    my $after = $ua->get(url($vh, '/app/after'));
    ok(is_login_redirect($after), "cookie store: that session's cookie is refused -> 302 to sign-in")
        or diag($after->status_line);
    ok(is_login_redirect(replay($cookie)->get(url($vh, '/app/after2'))),
       '... from any browser that replays it');
    is($other->get(url($vh, '/app/other'))->code, 200, "cookie store: the other user's session keeps working");
    my $again = new_ua();
    is(sign_in($again, $vh, '/app/again')->code, 200, 'cookie store: the user can sign in again');
}

# ---- with the cookie sent along (a first-party frame): ended as well
{
    my $ua = new_ua();
    my $r = sign_in($ua, 'entra_st_redis', '/app/fp');
    my $sid = session_sid($r) // '';
    my $cookie = session_cookie($ua);
    my $fc = front_channel_logout(base_url('entra_st_redis'), $sid, ua => $ua);
    fc_ok($fc, 'with the cookie');
    ok(is_login_redirect(replay($cookie)->get(url('entra_st_redis', '/app/'))),
       'with the cookie: the session ended');
}

# ---- two sessions of one Entra session (same sid: two tabs, or a sign-in
# on a second app server): Entra's logout ends both
for my $vh (qw(entra_st_redis entra_st_cookie)) {
    my $shared = sprintf '5e55%04x-0000-4000-8000-%012d', $$ & 0xffff, int(rand(1e9));
    mock_config({ user => { sid => $shared } });
    my ($u1, $u2) = (new_ua(), new_ua());
    my $r1 = sign_in($u1, $vh, '/app/tab1');
    my $r2 = sign_in($u2, $vh, '/app/tab2');
    is(session_sid($r1), $shared, "same sid, $vh: first session has the sid");
    is(session_sid($r2), $shared, "same sid, $vh: second session has the same sid");
    mock_reset();
    fc_ok(front_channel_logout(base_url($vh), $shared), "same sid, $vh");
    ok(is_login_redirect($u1->get(url($vh, '/app/tab1'))), "same sid, $vh: the first session ended");
    ok(is_login_redirect($u2->get(url($vh, '/app/tab2'))), "same sid, $vh: the second session ended");
}

# ---- other users' front-channel logouts (a busy site, or anyone sending
# ?sid=<junk>: the request needs no authentication) must not bring an ended
# session back
{
    my $vh = 'entra_st_cookie';
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/ended');
    my $sid = session_sid($r) // '';
    my $cookie = session_cookie($ua);
    fc_ok(front_channel_logout(base_url($vh), $sid), 'cookie store, before 100 others');
    ok(is_login_redirect(replay($cookie)->get(url($vh, '/app/'))), '... the session is refused');
    my $fua = new_ua(no_cookies => 1);
    my @codes;
    # at the pace real logouts come (under the 50 a second the server takes;
    # t/73_ended_sids.t floods it)
    for my $i (1 .. 100) {
        my $other = random_guid($i);
        push @codes, front_channel_logout(base_url($vh), $other, ua => $fua)->code;
        sleep 0.03;
    }
    is(scalar(grep { $_ == 200 } @codes), 100, '100 other front-channel logouts: 200 each');
    my $back = replay($cookie)->get(url($vh, '/app/back'));
    ok(is_login_redirect($back), "... and the first user's ended session is still refused")
        or diag('got ' . $back->status_line . ': the record of the ended sid was evicted');
}

# ---- a sid nobody has: still 200 (Entra only wants the frame to load)
{
    my $ua = new_ua();
    is(sign_in($ua, 'entra_st_redis', '/app/')->code, 200, 'unknown sid: a user signed in');
    fc_ok(front_channel_logout(base_url('entra_st_redis'), '00000000-dead-beef-0000-000000000000'),
          'unknown sid');
    fc_ok(front_channel_logout(base_url('entra_st_cookie'), '00000000-dead-beef-0000-000000000001'),
          'unknown sid, cookie store');
    is($ua->get(url('entra_st_redis', '/app/'))->code, 200, 'unknown sid: nobody is signed out');
}

is_deeply([entra_problems($mark)], [], 'no warn/error lines from the module');

done_testing();
