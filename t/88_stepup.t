# Issue 13: Conditional Access at the door, per location (t/conf/stepup.conf.in).
#  - Require entra-acrs c1: a signed-in user whose session lacks c1 is sent
#    back to Entra for the same user (claims + login_hint); the callback takes
#    only a token of that user (oid + tid) that holds c1, merges it into the
#    session (nothing else lost) and lands on the URL that asked.  Without c1:
#    403 naming the step-up, no loop.  XHR/API: 401 insufficient_claims.
#  - EntraMaxAuthAge 600: a sign-in older than that (or of unknown age) goes
#    to Entra with max_age; the returned auth_time must be within the bound.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HTTP::Request;
use MIME::Base64 qw(decode_base64);
use EntraTest;
use EntraSeeds qw(denied_page_ok);

my $vh = 'stepup';
my $JSON = JSON::PP->new->canonical;
my $CLAIMS_C1 = '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}';

# A browser signed in at /app (no acrs, no auth_time), with these user switches.
sub signed_in {
    my %switch = @_;
    my $host = delete $switch{vhost} // $vh;
    mock_reset();
    mock_config({ %switch }) if %switch;
    my $ua = new_ua();
    my $r = sign_in($ua, $host, '/app/start');
    is($r->code, 200, 'signed in' . (%switch ? ' (' . $JSON->encode(\%switch) . ')' : ''))
        or diag($r->status_line);
    return $ua;
}

sub backend_claim {
    my ($r, $name) = @_;
    my $e = echo($r) or return undef;
    return scalar echo_header($e, "X-Entra-Claim-$name");
}

sub session_cookie { my $ua = shift; return cookie_value($ua, 'entra_session') }

# The callback refuses a step-up: 403 with the page, no redirect, no new
# sign-in (its own state cookie is deleted, no other set), no session set.
sub refused_ok {
    my ($r, $needles, $what) = @_;
    is($r->code, 403, "$what: 403");
    ok(!defined location($r), "$what: no redirect (no loop)");
    my @set = grep { /^\s*[^=;\s]*state_[^=;\s]*=[^;\s]/ } set_cookie_headers($r);
    ok(!@set, "$what: no new sign-in started") or diag(join "\n", @set);
    ok(!find_set_cookie($r, 'entra_session'), "$what: the session cookie untouched");
    like($r->decoded_content // '', qr/\Q$_\E/, "$what: the page names $_") for @$needles;
}

# ---- 1. step-up succeeds: back on the URL that asked, acrs merged, nothing lost
{
    my $ua = signed_in();
    my $before = session_cookie($ua);
    my $mark = log_mark();
    my $path = '/app/admin/page?q=1&r=two%20words';
    my $r = $ua->get(url($vh, $path));
    ok(is_login_redirect($r), 'session without c1 at Require entra-acrs c1: 302 to Entra')
        or diag($r->status_line . ' ' . ($r->header('Location') // ''));
    my $q = query_params(abs_location($r) // '');
    is($q->{claims}, $CLAIMS_C1, '... claims asks for acrs c1 (essential) in the ID token');
    is($q->{login_hint}, 'adele@contoso.test', '... login_hint names the signed-in user');
    ok(!defined $q->{max_age}, '... no max_age');
    ok(find_set_cookie($r, qr/state_/), '... a state cookie');
    ok(!find_set_cookie($r, qr/^entra_session$/), '... the session cookie untouched');
    is(session_cookie($ua), $before, '... the browser keeps its session');

    my $authz = authorize_at_mock($ua, $r);
    is($authz->code, 302, 'the mock signs the user in');
    my $cb = finish_callback($ua, $authz);
    is($cb->code, 302, 'callback of the step-up: 302');
    is(URI->new(abs_location($cb) // '')->canonical->as_string,
       URI->new(url($vh, $path))->canonical->as_string, '... back to the URL that asked');
    my $final = follow($ua, $cb);
    is($final->code, 200, 'the page that asked: 200') or diag($final->status_line);
    is(backend_claim($final, 'acrs'), 'c1', '... the backend sees acrs c1');
    is(backend_claim($final, 'roles'), 'Task.Read,Admin', '... roles kept');
    is(backend_claim($final, 'groups'),
       '2f6a4c1e-0000-4000-8000-00000000a001,2f6a4c1e-0000-4000-8000-00000000a002', '... groups kept');
    is(backend_claim($final, 'oid'), USER->{oid}, '... the same user');
    my @lines = entra_lines($mark);
    ok((grep { /ENTRA00230:.*authentication context c1/ } @lines), 'log: ENTRA00230 step-up started')
        or diag(join "\n", @lines);
    ok((grep { /ENTRA00235:.*authentication context c1/ } @lines), 'log: ENTRA00235 session upgraded');
    ok(!(grep { /ENTRA0023[12346]/ } @lines), 'log: no step-up failure');

    $r = $ua->get(url($vh, '/app/admin/again'));
    is($r->code, 200, 'the upgraded session passes Require entra-acrs c1 from then on');
    $r = $ua->get(url($vh, '/app/start'));
    is($r->code, 200, '... and the rest of the site');

    # c2 afterwards: a second context, asked for on its own; the union kept
    $r = $ua->get(url($vh, '/app/c2/x'));
    ok(is_login_redirect($r), 'Require entra-acrs c2 with only c1: a step-up for c2');
    is(query_params(abs_location($r) // '')->{claims},
       '{"id_token":{"acrs":{"essential":true,"value":"c2"}}}', '... asking for c2');
    $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, '... granted');
    is(backend_claim($final, 'acrs'), 'c1,c2', '... acrs is the union c1,c2');
    is($ua->get(url($vh, '/app/admin/x'))->code, 200, '... c1 still good');
}

# ---- 2. Entra comes back without c1: 403 naming the step-up, no loop
{
    my $ua = signed_in();
    mock_config({ user => { auth_contexts => [] } });
    my $mark = log_mark();
    my $r = $ua->get(url($vh, '/app/admin/x'));
    ok(is_login_redirect($r), 'step-up started');
    my $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    refused_ok($cb, ['Step-up failed', 'authentication context c1'],
               'Entra leaves acrs out (controls not met)');
    my @lines = entra_lines($mark);
    ok((grep { /\[auth_entra:warn\].*ENTRA00232:.*authentication context c1/ } @lines),
       'log: ENTRA00232 at warn names c1') or diag(join "\n", @lines);
    ok(!(grep { /ENTRA00235/ } @lines), 'log: no upgrade');
    my $ok = $ua->get(url($vh, '/app/start'));
    is($ok->code, 200, 'the session is kept as it was');
    ok(!defined backend_claim($ok, 'acrs'), '... without acrs');
}

# ---- 3. another user signs in at the step-up: refused, the old session untouched
{
    my $ua = signed_in();
    my $r = $ua->get(url($vh, '/app/admin/x'));
    ok(is_login_redirect($r), 'step-up started');
    mock_config({ user => { oid => '11111111-2222-4333-8444-555555555555',
                            preferred_username => 'mallory@contoso.test', name => 'Mallory' } });
    my $mark = log_mark();
    my $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    refused_ok($cb, ['Step-up failed', 'Another account'], 'a different user at the step-up');
    my @lines = entra_lines($mark);
    ok((grep { /\[auth_entra:error\].*ENTRA00231:.*oid=11111111-2222-4333-8444-555555555555.*oid=\Q${\USER->{oid}}\E/ } @lines),
       'log: ENTRA00231 at error names both users') or diag(join "\n", @lines);
    my $ok = $ua->get(url($vh, '/app/start'));
    is($ok->code, 200, 'the old session still works');
    is(backend_claim($ok, 'oid'), USER->{oid}, '... as the old user');
    is(backend_claim($ok, 'preferred_username'), 'adele@contoso.test', '... with the old name');
    ok(!defined backend_claim($ok, 'acrs'), '... and no acrs');
}

# ---- 4. XHR and API callers: 401 insufficient_claims with the claims, no redirect
{
    my $ua = signed_in();
    my $mark = log_mark();
    for my $case (['X-Requested-With' => 'XMLHttpRequest'], [Accept => 'application/json'],
                  ['Sec-Fetch-Mode' => 'cors']) {
        my $r = $ua->get(url($vh, '/app/admin/api'), @$case);
        is($r->code, 401, "@$case: 401");
        ok(!defined location($r), '... no redirect');
        ok(!find_set_cookie($r, qr/state_/), '... no sign-in started');
        my $www = $r->header('WWW-Authenticate') // '';
        like($www, qr/^Bearer\b/, '... WWW-Authenticate: Bearer');
        like($www, qr/\berror="insufficient_claims"/, '... error="insufficient_claims"');
        my ($b64) = $www =~ /\bclaims="([A-Za-z0-9+\/=]+)"/;
        ok($b64, '... claims="<base64>"') or diag($www);
        is(decode_base64($b64 // ''), $CLAIMS_C1, '... which decodes to the claims asking for c1');
    }
    my $r = $ua->post(url($vh, '/app/admin/form'), Content => 'a=1');
    is($r->code, 401, 'a POST (cannot come back to it): 401 insufficient_claims');
    like($r->header('WWW-Authenticate') // '', qr/insufficient_claims/, '... with the challenge');
    ok((grep { /ENTRA00238:/ } entra_lines($mark)), 'log: ENTRA00238 at info');
}

# ---- 5. Require not entra-acrs c1: never a step-up
{
    my $ua = signed_in();
    my $r = $ua->get(url($vh, '/app/not-acrs/x'));
    denied_page_ok($r, ['no authentication context c1'],
                   'Require not entra-acrs c1, no acrs claim (unknown: fail closed)');
    ok(!echo($r), '... the backend was not reached');

    $ua = signed_in(user => { acrs => ['c2'] });
    $r = $ua->get(url($vh, '/app/not-acrs/x'));
    is($r->code, 200, 'Require not entra-acrs c1, acrs c2: granted');

    $ua = signed_in(user => { acrs => ['c1'] });
    $r = $ua->get(url($vh, '/app/not-acrs/x'));
    denied_page_ok($r, ['no authentication context c1'], 'Require not entra-acrs c1, acrs c1: denied');
    $r = $ua->get(url($vh, '/app/admin/x'));
    is($r->code, 200, 'a sign-in that brought c1 passes Require entra-acrs c1 without a step-up');
}

# ---- 6. <RequireAny>/<RequireAll>: a step-up only when the decision is "denied"
{
    my $ua = signed_in();
    my $r = $ua->get(url($vh, '/app/role-or-acrs/x'));
    is($r->code, 200, '<RequireAny> role Admin or acrs c2: the role lets the user in, no step-up');

    $r = $ua->get(url($vh, '/app/role-and-acrs/x'));
    denied_page_ok($r, ['Billing.Admin'],
                   '<RequireAll> role Billing.Admin (missing) then acrs c1: 403 for the role, no step-up');
}

# ---- 7. EntraMaxAuthAge 600
{
    # a session of unknown age (no auth_time): a step-up with max_age
    my $ua = signed_in();
    my $mark = log_mark();
    my $r = $ua->get(url($vh, '/app/fresh/x?y=1'));
    ok(is_login_redirect($r), 'a session without auth_time at EntraMaxAuthAge 600: 302 to Entra');
    my $q = query_params(abs_location($r) // '');
    is($q->{max_age}, '600', '... max_age=600');
    is($q->{login_hint}, 'adele@contoso.test', '... login_hint');
    ok(!defined $q->{claims}, '... no claims');
    my $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    is($cb->code, 302, '... Entra answers with auth_time: back');
    like(abs_location($cb) // '', qr{/app/fresh/x\?y=1$}, '... to the URL that asked');
    my $final = follow($ua, $cb);
    is($final->code, 200, '... 200');
    my $at = backend_claim($final, 'auth_time') // 0;
    ok($at > time - 120, '... the session now has a recent auth_time') or diag("auth_time $at");
    is(backend_claim($final, 'roles'), 'Task.Read,Admin', '... roles kept');
    is($ua->get(url($vh, '/app/fresh/again'))->code, 200, 'fresh enough: 200 with no round trip');
    ok((grep { /ENTRA00235:.*within the last 600 seconds/ } entra_lines($mark)), 'log: ENTRA00235');

    # an old sign-in: sent to Entra, which signs in afresh
    $ua = signed_in(user => { auth_time => time - 3600 });
    $r = $ua->get(url($vh, '/app/fresh/x'));
    ok(is_login_redirect($r), 'auth_time an hour old: 302 to Entra');
    is(query_params(abs_location($r) // '')->{max_age}, '600', '... with max_age=600');
    mock_reset();     # Entra's own sign-in time again (its session is recent)
    $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, '... a fresh auth_time comes back: 200');

    # Entra's answer without auth_time: fail closed
    $ua = signed_in(user => { auth_time => undef });
    $mark = log_mark();
    $r = $ua->get(url($vh, '/app/fresh/x'));
    ok(is_login_redirect($r), 'step-up for a fresh sign-in');
    $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    refused_ok($cb, ['Step-up failed', 'within the last 600 seconds'],
               'the returned ID token has no auth_time');
    ok((grep { /\[auth_entra:error\].*ENTRA00233:.*no auth_time/ } entra_lines($mark)),
       'log: ENTRA00233 at error');

    # an answer still too old for the location: refused at the callback, by
    # the rule every request applies (a future auth_time within the clock
    # skew; an older one never)
    $ua = signed_in();
    mock_config({ user => { auth_time => int(clock_now()) - 700 } });
    $mark = log_mark();
    $r = $ua->get(url($vh, '/app/fresh/x'));
    $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    refused_ok($cb, ['within the last 600 seconds'], 'auth_time 700 s old (EntraMaxAuthAge 600)');
    ok((grep { /\[auth_entra:error\].*ENTRA00233:/ } entra_lines($mark)), 'log: ENTRA00233 at error');

    # one just within the bound, past it moments later: accepted once, then
    # 403 rather than another round trip
    $ua = signed_in();
    mock_config({ user => { auth_time => int(clock_now()) - 595 } });
    $mark = log_mark();
    $r = $ua->get(url($vh, '/app/fresh/x'));
    $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    is($cb->code, 302, 'auth_time 595 s old (EntraMaxAuthAge 600): accepted');
    advance_clock(10);
    $final = follow($ua, $cb);
    denied_page_ok($final, ['within the last 600 seconds'], '... 10 s later past the bound: 403, not a loop');
    ok((grep { /ENTRA00236:/ } entra_lines($mark)), 'log: ENTRA00236');

    # XHR: 401 insufficient_claims asking for auth_time
    $ua = signed_in();
    $r = $ua->get(url($vh, '/app/fresh/api'), 'X-Requested-With' => 'XMLHttpRequest');
    is($r->code, 401, 'XHR at EntraMaxAuthAge with an unknown sign-in time: 401');
    my ($b64) = ($r->header('WWW-Authenticate') // '') =~ /\bclaims="([A-Za-z0-9+\/=]+)"/;
    is(decode_base64($b64 // ''), '{"id_token":{"auth_time":{"essential":true}}}',
       '... insufficient_claims asking for auth_time');

    # a first sign-in at such a location asks for max_age at once
    mock_reset();
    $ua = new_ua();
    my ($done, $s) = sign_in($ua, $vh, '/app/fresh/first');
    is($s->{authorize_params}{max_age}, '600', 'a sign-in that starts at /app/fresh sends max_age');
    is($done->code, 200, '... and lands there in one round trip');
}

# ---- 8. a socache store: the upgrade is saved under the session's id
{
    my $sh = 'stepup_shmcb';
    my $ua = signed_in(vhost => $sh);
    ok(session_cookie($ua), 'a session id cookie');
    my $r = $ua->get(url($sh, '/app/admin/x'));
    ok(is_login_redirect($r), 'socache: a step-up for c1');
    my $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, '... upgraded: 200');
    is(backend_claim($final, 'acrs'), 'c1', '... acrs c1');
    is(backend_claim($final, 'roles'), 'Task.Read,Admin', '... roles kept');
    is($ua->get(url($sh, '/app/admin/y'))->code, 200, '... and kept in the store');

    $ua = signed_in(vhost => $sh);
    my $before = session_cookie($ua);
    $r = $ua->get(url($sh, '/app/admin/x'));
    mock_config({ user => { oid => '11111111-2222-4333-8444-555555555555' } });
    my $cb = finish_callback($ua, authorize_at_mock($ua, $r));
    refused_ok($cb, ['Another account'], 'socache: another user at the step-up');
    is(session_cookie($ua), $before, '... the same session id cookie');
    my $ok = $ua->get(url($sh, '/app/start'));
    is(backend_claim($ok, 'oid'), USER->{oid}, '... the old session, as it was');

    $ua = signed_in(vhost => $sh);
    $r = $ua->get(url($sh, '/app/fresh/x'));
    is(query_params(abs_location($r) // '')->{max_age}, '600', 'socache: EntraMaxAuthAge step-up');
    $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, '... upgraded: 200');
}

# ---- 9. step-ups started and never finished (Entra's page closed, again
# and again) by a user with a big session: the oldest attempts' state
# cookies go, so the callback's Cookie header (the session's cookies are
# sent there too) stays within LimitRequestFieldSize and the next step-up
# finishes. (A signed-in request has the module's cookies taken out before
# the step-up starts: the pending index and the session's size are read
# from the header as the browser sent it.)
{
    my @abc = ('A' .. 'Z', 'a' .. 'z', 0 .. 9);
    my $ua = signed_in(user => { noise => join '', map { $abc[rand @abc] } 1 .. 3000 });
    my $cb = url($vh, '/.auth/login/aad/callback');
    my $header = sub {
        my $req = HTTP::Request->new(GET => $cb);
        $ua->cookie_jar->add_cookie_header($req);
        return $req->header('Cookie') // '';
    };
    cmp_ok(length($header->()), '>', 3000, 'a big session: its cookies go to the callback too');
    my $dropped = 0;
    for my $i (1 .. 16) {
        my $r = $ua->get(url($vh, "/app/admin/abandoned-$i"));
        is($r->code, 302, "abandoned step-up $i: 302 to Entra") if $i == 1 || $i == 16;
        $dropped += grep { /state_[^=;\s]*=;.*Max-Age=0/i } set_cookie_headers($r);
    }
    cmp_ok($dropped, '>', 0, "... the oldest attempts' state cookies were deleted ($dropped)");
    my $sent = length($header->());
    cmp_ok($sent, '<=', 8190 - 256,
           "the callback's Cookie header stays within LimitRequestFieldSize ($sent bytes)");
    my $r = $ua->get(url($vh, '/app/admin/finally'));
    my $final = follow($ua, finish_callback($ua, authorize_at_mock($ua, $r)));
    is($final->code, 200, 'the next step-up finishes: 200') or diag($final->status_line);
    is(backend_claim($final, 'acrs'), 'c1', '... with acrs c1');
}

# ---- 10. the same when the step-up for a fresh sign-in starts in an
# internal redirect (an ErrorDocument at a location with EntraMaxAuthAge):
# the first request took the module's cookies out of the header the
# redirect shares, and the pending index must still be read from the
# header as the browser sent it, or the abandoned attempts pile up.
{
    my @abc = ('A' .. 'Z', 'a' .. 'z', 0 .. 9);
    my $ua = signed_in(user => { auth_time => time - 3600,
                                 noise => join '', map { $abc[rand @abc] } 1 .. 3000 });
    my $cb = url($vh, '/.auth/login/aad/callback');
    my $header = sub {
        my $req = HTTP::Request->new(GET => $cb);
        $ua->cookie_jar->add_cookie_header($req);
        return $req->header('Cookie') // '';
    };
    my $dropped = 0;
    for my $i (1 .. 16) {
        my $r = $ua->get(url($vh, "/app/gone/abandoned-$i"));
        # (httpd answers the ErrorDocument's redirect with the 404 it was
        # for, its cookies kept: the attempt is started all the same)
        ok((grep { /state_[^=;\s]+=[^;\s]+;/i } set_cookie_headers($r)),
           "step-up $i from an ErrorDocument: a state cookie set") if $i == 1 || $i == 16;
        $dropped += grep { /state_[^=;\s]*=;.*Max-Age=0/i } set_cookie_headers($r);
    }
    cmp_ok($dropped, '>', 0, "... the oldest attempts' state cookies were deleted ($dropped)");
    my $sent = length($header->());
    cmp_ok($sent, '<=', 8190 - 256,
           "the callback's Cookie header stays within LimitRequestFieldSize ($sent bytes)");
}

done_testing();
