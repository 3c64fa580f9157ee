# Issue 13: revocation within minutes (t/conf/cae.conf.in, vhosts revalidate
# and revalidate_shmcb: EntraSessionRevalidate 120, offline_access).  The
# session's refresh token is redeemed at most every 120 s while it is used
# (counted at the mock's token endpoint), on the module's test clock;
# revoking the user's sessions at the mock (refresh: invalid_grant
# AADSTS50173) ends the session at the next revalidation, not before; an
# Entra that cannot be reached keeps the session (warn line) and is asked
# again 30 s later at the earliest.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use EntraTest;
use POSIX ();
use Time::HiRes ();

plan skip_all => 'needs the test clock (configure --enable-test-clock)' unless test_clock();

# Calls to the token endpoint since the sign-in (its code redemption is
# the first; a dropped connection counts too)
sub refreshes { return mock_stats()->{requests}{token} - 1 }

sub signed_in {
    my ($vh) = @_;
    past_refresh_breaker();
    mock_reset();
    my $ua = new_ua();
    my $r = sign_in($ua, $vh, '/app/start');
    is($r->code, 200, "$vh: signed in") or diag($r->status_line);
    return $ua;
}

sub ended_ok {
    my ($ua, $vh, $r, $what) = @_;
    ok(is_login_redirect($r), "$what: the browser is sent to sign in")
        or diag($r->status_line);
    ok(find_set_cookie($r, 'entra_session'), "$what: the session cookie is cleared")
        or diag(join "\n", set_cookie_headers($r));
    my $x = $ua->get(url($vh, '/app/x'), 'X-Requested-With' => 'XMLHttpRequest');
    is($x->code, 401, "$what: afterwards, no session (XHR: 401)");
}

for my $vh (qw(revalidate revalidate_shmcb)) {
    # ---- 1. at most once per interval, even while used constantly
    my $ua = signed_in($vh);
    my $old = cookie_value($ua, 'entra_session');
    is(refreshes(), 0, "$vh: no refresh at sign-in");
    for my $secs (0, 30, 59) {
        advance_clock($secs) if $secs;
        is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: used after +${secs}s");
    }
    is(refreshes(), 0, "$vh: not revalidated within the 120 s (the sign-in counts as one)");
    advance_clock(32);           # 121 s after the sign-in
    my $mark = log_mark();
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: used 121 s after the sign-in");
    is(refreshes(), 1, "$vh: ... the refresh token redeemed once");
    ok((grep { /ENTRA00813:/ } entra_lines($mark)), "$vh: log ENTRA00813 (debug)");
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: used again at once") for 1 .. 3;
    advance_clock(100);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: +100 s");
    is(refreshes(), 1, "$vh: ... no further refresh within the interval");

    # ---- 2. revoked: ends at the next revalidation, not before
    mock_config({ revoke_sessions => JSON::PP::true });
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: revoked, but not due yet: the session goes on");
    is(refreshes(), 1, "$vh: ... no call to Entra");
    advance_clock(21);           # 121 s after the revalidation
    $mark = log_mark();
    my $r = $ua->get(url($vh, '/app/x'));
    is(refreshes(), 2, "$vh: due: the refresh token redeemed");
    ended_ok($ua, $vh, $r, "$vh: revoked (invalid_grant AADSTS50173)");
    my @lines = entra_lines($mark);
    ok((grep { /ENTRA00812:.*refused.*session ends/ } @lines), "$vh: log ENTRA00812")
        or diag(join "\n", @lines);
    ok((grep { /AADSTS50173/ } @lines), "$vh: log names AADSTS50173");
    if ($vh eq 'revalidate_shmcb') {
        # the store record is gone: the old cookie brings nothing back
        my $again = new_ua();
        set_cookie($again, 'entra_session', $old);
        $r = $again->get(url($vh, '/app/x'), 'X-Requested-With' => 'XMLHttpRequest');
        is($r->code, 401, "$vh: the session's old cookie, replayed: no session");
    }

    # ---- 3. Entra unreachable: the session goes on, asked again 30 s later
    $ua = signed_in($vh);
    mock_config({ drop => { token => JSON::PP::true } });
    advance_clock(121);
    $mark = log_mark();
    $r = $ua->get(url($vh, '/app/x'));
    is($r->code, 200, "$vh: Entra unreachable at the revalidation: the session goes on");
    is(refreshes(), 1, "$vh: ... one attempt");
    @lines = entra_lines($mark);
    ok((grep { /\[auth_entra:warn\].*ENTRA00811:.*could not be reached/ } @lines),
       "$vh: ... a warn line ENTRA00811") or diag(join "\n", @lines);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: used again at once") for 1 .. 3;
    advance_clock(20);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: +20 s");
    is(refreshes(), 1, "$vh: ... not asked again within 30 s");
    advance_clock(11);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: +31 s");
    is(refreshes(), 2, "$vh: ... asked again");
    mock_config({ drop => undef });
    advance_clock(31);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: Entra back, +31 s");
    is(refreshes(), 3, "$vh: ... revalidated");
    advance_clock(60);
    is($ua->get(url($vh, '/app/x'))->code, 200, "$vh: +60 s");
    is(refreshes(), 3, "$vh: ... not again within the interval");
    mock_config({ revoke_sessions => JSON::PP::true });
    advance_clock(61);
    ended_ok($ua, $vh, $ua->get(url($vh, '/app/x')), "$vh: revoked after Entra came back");
}

# ---- 4. /.auth/me revalidates too: a revoked session hands out nothing
for my $vh (qw(revalidate revalidate_shmcb)) {
    my $ua = signed_in($vh);
    my $me = $ua->get(url($vh, '/.auth/me'));
    is($me->code, 200, "$vh: /.auth/me while the session is good");
    mock_config({ revoke_sessions => JSON::PP::true });
    advance_clock(121);
    $me = $ua->get(url($vh, '/.auth/me'));
    is($me->code, 401, "$vh: revoked and due: /.auth/me 401");
    unlike($me->decoded_content // '', qr/adele/, "$vh: ... no claims");
    ok(find_set_cookie($me, 'entra_session'), "$vh: ... the session cookie cleared");
    ok(is_login_redirect($ua->get(url($vh, '/app/x'))), "$vh: ... and the app signs in again");
    is(refreshes(), 1, "$vh: ... one call to Entra");
}

# ---- Entra hanging (a blackhole): while one session's revalidation waits
# on it, another session due at the same moment does not start a call of
# its own and wait the whole timeout too: it goes on at once.
{
    my $vh = 'revalidate';
    my $first = signed_in($vh);
    my $second = new_ua();
    is(sign_in($second, $vh, '/app/start')->code, 200, 'blackhole: a second session');
    mock_config({ slow => { token => 4 } });
    advance_clock(121);
    my $before = mock_stats()->{requests}{token};
    my $pid = fork // die "fork: $!";
    if (!$pid) {                    # the first session's revalidation hangs
        $first->timeout(20);
        $first->get(url($vh, '/app/hang'));
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(0.5);        # its call is on its way
    advance_clock(3);               # ... for more than a second, on the module's clock
    my $t0 = Time::HiRes::time();
    my $r = $second->get(url($vh, '/app/meanwhile'));
    my $took = Time::HiRes::time() - $t0;
    is($r->code, 200, 'blackhole: the second session goes on');
    cmp_ok($took, '<', 2, '... at once, not after the timeout') or diag("took $took s");
    waitpid($pid, 0);
    is(mock_stats()->{requests}{token} - $before, 1, '... one call to Entra, not one a session');
    mock_config({ slow => undef });
}


# ---- a session Entra gave no refresh token: nothing to revalidate with,
# so it ends when due (fail closed), with a warn line
{
    my $vh = 'revalidate';
    past_refresh_breaker();
    mock_reset();
    mock_config({ withhold_refresh_token => JSON::PP::true });
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/start')->code, 200, 'no refresh token: signed in');
    is($ua->get(url($vh, '/app/x'))->code, 200, '... used before the interval');
    advance_clock(121);
    my $mark = log_mark();
    my $r = $ua->get(url($vh, '/app/x'), Accept => 'text/html');
    ok(is_login_redirect($r), '... due: the session ends, the browser signs in again')
        or diag($r->status_line);
    ok((grep { /\[auth_entra:warn\].*ENTRA00814:.*no refresh token/ } entra_lines($mark)),
       '... a warn line ENTRA00814') or diag(join "\n", entra_lines($mark));
    mock_reset();
}

done_testing();
