# Keeping the passed access token fresh (offline_access + EntraPassAccessToken
# On, sess_refresh): refreshed ahead of expiry (5 minutes) without the user
# noticing, the rotated refresh token kept, an unsigned ID token in the
# answer ignored, a refused refresh ends the session, an unreachable IdP
# does not, concurrent requests share one refresh.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use EntraTest;
use EntraSessions;

my $vh = 'sess_refresh';
mock_reset();
past_refresh_breaker();
my $mark = log_mark();

sub expiry_of  { backend_header($_[0], 'X-Entra-Access-Token-Expires') }
sub last_token { mock_stats()->{last}{token} || {} }
sub last_issue { mock_stats()->{last}{token_response} || {} }
sub live_at_graph {
    my $t = shift // return 0;
    my $r = EntraTest::control_ua()->get(mock_url('/v1.0/me'), Authorization => "Bearer $t");
    return $r->code == 200;
}
# let time pass (on the module's test clock: EntraTest::advance_clock) until
# the access token expiring at $exp is due (300 s ahead), plus a second.
# The module counts a token's expiry from its own clock (now + expires_in).
sub wait_due {
    my $exp = shift;
    my $w = $exp - 300 + 1.2 - clock_now();
    advance_clock($w) if $w > 0;
}

# ---------------------------------------------------------------- ahead ---
mock_config({ access_token_lifetime => 304 });
my $ua = new_ua();
my $r = sign_in($ua, $vh, '/app/fresh');
is($r->code, 200, 'signed in with offline_access');
my $t1 = token_of($r) // '';
my $e1 = expiry_of($r) // 0;
ok($t1, 'backend gets X-Entra-Access-Token');
ok(abs($e1 - (clock_now() + 304)) <= 3, 'X-Entra-Access-Token-Expires = now + expires_in (304)') or diag("expires $e1");
my $rt1 = last_issue()->{refresh_token} // '';
ok($rt1, 'the mock issued a refresh token at sign-in');
is(grants()->{refresh_token}, 0, 'no refresh yet');

$r = $ua->get(url($vh, '/app/fresh'));
ok((token_of($r) // '') eq $t1, 'not due yet (304 s left): the same token');
is(grants()->{refresh_token}, 0, '... and no call to Entra');

wait_due($e1);
$r = $ua->get(url($vh, '/app/fresh/1'), Accept => 'text/html');
is($r->code, 200, 'due (under 5 minutes left): the request just works');
my $t2 = token_of($r);
my $e2 = expiry_of($r) // 0;
ok($t2 && $t2 ne $t1, 'backend gets a new access token');
cmp_ok($e2, '>', $e1, '... with a later expiry');
ok(live_at_graph($t2), '... that Graph accepts');
is(grants()->{refresh_token}, 1, 'one refresh_token grant at the token endpoint');
ok((last_token()->{refresh_token} // '') eq $rt1, '... with the refresh token from the sign-in');
is(last_token()->{client_id}, CLIENT_ID, '... as this client');
like(last_token()->{scope} // '', qr/\boffline_access\b/, '... asking for offline_access again');
ok(find_set_cookie($r, 'entra_session'), 'the session cookie is sealed again');
my $rt2 = last_issue()->{refresh_token};
isnt($rt2, $rt1, 'Entra (the mock) rotated the refresh token');

$r = $ua->get(url($vh, '/app/fresh/2'));
ok((token_of($r) // '') eq $t2, 'the next request: the new token, no new refresh');
is(grants()->{refresh_token}, 1, '... still one refresh');

# the second refresh only works with the refresh token the first one returned
wait_due($e2);
$r = $ua->get(url($vh, '/app/fresh/3'), Accept => 'text/html');
is($r->code, 200, 'second refresh: the request just works');
my $t3 = token_of($r);
ok($t3 && $t3 ne $t2, '... with a third access token');
is(grants()->{refresh_token}, 2, '... two refresh_token grants in all');
ok((last_token()->{refresh_token} // '') eq ($rt2 // '-'), '... the rotated refresh token was kept and used');

# ------------------------------------------------- ID token in the answer ---
# /.auth/refresh forces a refresh; the refreshed ID token is unsigned and
# names someone else: ignored, the sign-in's claims stay
mock_config({ bad_token => 'alg_none',
              user => { name => 'Mallory Evil', preferred_username => 'mallory@evil.example',
                        oid => '99999999-9999-9999-9999-999999999999' } });
$r = $ua->get(url($vh, '/.auth/refresh'));
is($r->code, 200, '/.auth/refresh with an unsigned ID token in the answer: 200 (the token is ignored)');
$r = $ua->get(url($vh, '/app/claims'));
is($r->code, 200, 'still signed in');
isnt(token_of($r), $t3, '... with the refreshed access token');
is(backend_header($r, 'X-Test-Remote-User'), USER->{preferred_username}, '... REMOTE_USER still Adele');
is(backend_header($r, 'X-Entra-Claim-name'), USER->{name}, '... name claim unchanged');
is(backend_header($r, 'X-Entra-Claim-oid'), USER->{oid}, '... oid claim unchanged');

# a signed ID token in the answer is validated: a forged one never passes
# (a session of its own: /.auth/refresh forces one refresh per 30 s a
# session, so $ua's would be answered 429 without asking Entra)
{
    mock_reset();
    my $fb = new_ua();
    is(sign_in($fb, $vh, '/app/forged')->code, 200, 'mis-signed ID token: signed in');
    mock_config({ bad_token => 'bad_signature',
                  user => { name => 'Mallory Evil', preferred_username => 'mallory@evil.example',
                            oid => '99999999-9999-9999-9999-999999999999' } });
    my $m = log_mark();
    my $g = grants()->{refresh_token};
    my $fr = $fb->get(url($vh, '/.auth/refresh'));
    is(grants()->{refresh_token}, $g + 1, '/.auth/refresh with a mis-signed ID token in the answer: Entra asked');
    is($fr->code, 401, '... not accepted: 401 (a refused refresh)');
    my @l = entra_lines($m);
    ok(scalar(grep { /ENTRA00802:.*ID token in Entra's answer is invalid/ } @l), '... logged (ENTRA00802)')
        or diag(join "\n", @l);
    $fr = $fb->get(url($vh, '/app/claims'), Accept => 'text/html');
    ok(is_login_redirect($fr), '... the session ends: the claims never become the forged ones (302 to sign-in)')
        or diag($fr->status_line . ' name=' . (backend_header($fr, 'X-Entra-Claim-name') // '-'));
}
mock_reset();

# ----------------------------------------------------------- refused ---
# Entra's refusals as the mock gives them: the refresh token expired
# (AADSTS700082), the user's sessions revoked (AADSTS50173), Conditional
# Access wanting MFA (interaction_required with a claims challenge), and a
# forced sign-in-frequency error.
for my $case (['invalid_grant', 70043, 'Conditional Access sign-in frequency (AADSTS70043)',
               { token_error => { error => 'invalid_grant', code => 70043, status => 400 } }],
              ['invalid_grant', 700082, 'refresh token expired (AADSTS700082)',
               { expire_refresh_tokens => JSON::PP::true }],
              ['invalid_grant', 50173, 'sessions revoked by an admin (AADSTS50173)',
               { revoke_sessions => JSON::PP::true }],
              ['interaction_required', 50076, 'MFA required, claims challenge (AADSTS50076)',
               { interaction_required => JSON::PP::true }]) {
    my ($error, $code, $what, $switch) = @$case;
    mock_reset();
    mock_config({ access_token_lifetime => 120 });
    my $b = new_ua();
    is(sign_in($b, $vh, '/app/refused')->code, 200, "$what: signed in (token due at once)");
    mock_config($switch);
    my $m = log_mark();
    my $res = $b->get(url($vh, '/app/refused'), Accept => 'text/html');
    ok(is_login_redirect($res), "$what: the browser is sent to sign in again") or diag($res->status_line);
    ok(cleared_cookie($res, 'entra_session'), '... the session cookie is cleared');
    ok(!defined cookie_value($b, 'entra_session'), '... the browser holds no session');
    ok(is_login_redirect($b->get(url($vh, '/app/refused'), Accept => 'text/html')), '... the next request too');
    ok(scalar(grep { /AADSTS$code|$error/ } entra_lines($m)), '... the log names the refusal')
        or diag(join "\n", entra_lines($m));
}
{   # this server's credential refused (a secret that expired, AADSTS7000222):
    # the server's fault, not the user's: every session goes on, the log says so
    mock_reset();
    mock_config({ access_token_lifetime => 120 });
    my $b = new_ua();
    is(sign_in($b, $vh, '/app/refused')->code, 200, 'credential refused: signed in (token due at once)');
    mock_config({ token_error => { error => 'invalid_client', code => 7000222, status => 401 } });
    my $m = log_mark();
    my $res = $b->get(url($vh, '/app/refused'), Accept => 'text/html');
    is($res->code, 200, 'invalid_client on refresh: the session goes on (200)');
    ok(!cleared_cookie($res, 'entra_session'), '... its cookie is kept');
    ok(scalar(grep { /\[auth_entra:error\].*ENTRA00815:.*invalid_client/ } entra_lines($m)),
       '... an error line says the server\'s credential was refused (ENTRA00815)')
        or diag(join "\n", entra_lines($m));
    ok(!scalar(grep { /ENTRA00804:/ } entra_lines($m)), '... and no "session ends" line');

    # ... but an app an administrator disabled for sign-in (AADSTS7000112)
    # is cut off: its sessions end
    mock_config({ token_error => { error => 'unauthorized_client', code => 7000112, status => 400 } });
    advance_clock(11);      # past the remembered "Entra would not" of the request before
    $res = $b->get(url($vh, '/app/refused'), Accept => 'text/html');
    ok(is_login_redirect($res), 'the app disabled for sign-in (AADSTS7000112): the session ends')
        or diag($res->status_line);
}
{   # a script is told 401, and its cookie is cleared as well
    mock_reset();
    mock_config({ access_token_lifetime => 120 });
    my $b = new_ua();
    is(sign_in($b, $vh, '/app/refused')->code, 200, 'XHR case: signed in');
    mock_config({ token_error => { error => 'invalid_grant', code => 70043, status => 400 } });
    my $res = $b->get(url($vh, '/app/refused'), 'X-Requested-With' => 'XMLHttpRequest');
    ok(is_api_challenge($res), 'refused refresh, XHR: 401 with a challenge') or diag($res->status_line);
    ok(cleared_cookie($res, 'entra_session'), '... and the session cookie cleared');
}

# ----------------------------------------------- concurrent requests ---
{
    mock_reset();
    mock_config({ access_token_lifetime => 120 });
    my $b = new_ua();
    my $signed = sign_in($b, $vh, '/app/race');
    is($signed->code, 200, 'concurrency: signed in (token due at once)');
    my $old = token_of($signed);
    my $cookie = join '; ', map { "$_=" . session_cookies($b)->{$_} } sort keys %{ session_cookies($b) };
    my $before = grants()->{refresh_token};
    mock_config({ slow => { token => 1.5 } });
    my @res = parallel_get($vh, '/app/race', map { [Cookie => $cookie, Accept => 'text/html'] } 1 .. 3);
    is_deeply([map { $_->{code} } @res], [200, 200, 200], 'three requests at once needing a refresh: all 200');
    is(grants()->{refresh_token} - $before, 1, '... exactly one refresh call at Entra');
    my @tokens = map { echo_header($_->{echo} || {}, 'X-Entra-Access-Token') // '' } @res;
    is(scalar(grep { $_ ne $old && length } @tokens), 1, '... one of them (the one that asked) passes the new token');
    is(scalar(grep { $_ eq $old } @tokens), 2,
       '... the two others, whose token is still valid for 2 minutes, go on with it at once');
    mock_config({ slow => undef });
}

# ------------------------------------------------------- IdP trouble ---
# (the slow case last: the mock answers those requests after the module has
# given up, and spends the refresh token then, as Entra may have done too)
for my $case ([{ drop => { token => JSON::PP::true } }, 'token endpoint drops the connection'],
              [{ fail => { token => 503 } }, 'token endpoint answers 503 temporarily_unavailable'],
              [{ fail => { token => 500 } }, 'token endpoint answers 500'],
              [{ slow => { token => 3 } }, 'token endpoint slower than EntraHTTPTimeout']) {
    my ($sw, $what) = @$case;
    mock_reset();
    mock_config({ access_token_lifetime => 120 });
    my $b = new_ua();
    my $first = sign_in($b, $vh, '/app/down');
    my $tok = token_of($first);
    mock_config($sw);
    my $res = $b->get(url($vh, '/app/down'), Accept => 'text/html');
    is($res->code, 200, "$what: the request goes on") or diag($res->status_line);
    ok(defined token_of($res) && token_of($res) eq $tok, '... with the token it has');
    ok(!cleared_cookie($res, 'entra_session'), '... the session is not ended');
    my $rr = $b->get(url($vh, '/.auth/refresh'));
    is($rr->code, 502, "$what: /.auth/refresh 502") or diag($rr->status_line);
    mock_config({ drop => undef, slow => undef, fail => undef });
    if ($sw->{slow}) {
        sleep 1.5;    # until the mock has answered the requests the module gave up on
        next;
    }
    # the failure is remembered for 2 s (src/refresh.c UNAVAILABLE_TTL), so
    # that the session's other requests do not each wait on Entra
    $res = $b->get(url($vh, '/app/down'));
    ok(defined token_of($res) && token_of($res) eq $tok, '... IdP back, within 2 s: the token it has, no new call');
    advance_clock(2.2);
    $res = $b->get(url($vh, '/app/down'));
    is($res->code, 200, '... IdP back: signed in');
    ok(token_of($res) && token_of($res) ne $tok, '... and the token is refreshed now');
}

# ------------------------------------------------------- /.auth/refresh ---
{
    mock_reset();
    my $anon = new_ua();
    my $res = $anon->get(url($vh, '/.auth/refresh'));
    is($res->code, 401, '/.auth/refresh without a session: 401');
    $res = raw_get($vh, '/.auth/refresh', 'entra_session=garbage');
    is($res->code, 401, '/.auth/refresh with a bad cookie: 401');

    my $b = new_ua();
    my $first = sign_in($b, $vh, '/app/ondemand');
    my $tok = token_of($first);
    my $before = grants()->{refresh_token};
    mock_config({ access_token_lifetime => 1800 });
    $res = $b->get(url($vh, '/.auth/refresh'));
    is($res->code, 200, '/.auth/refresh: 200');
    like($res->header('Content-Type') // '', qr{^application/json}, '... JSON');
    like($res->header('Cache-Control') // '', qr/no-store/, '... Cache-Control: no-store');
    my $j = eval { JSON::PP->new->decode($res->content) } || {};
    ok(abs(($j->{expires_on} // 0) - (clock_now() + 1800)) <= 3, '... expires_on = the new token\'s expiry')
        or diag($res->content);
    is(grants()->{refresh_token} - $before, 1, '... one refresh at Entra (though the token was not due)');
    ok(find_set_cookie($res, 'entra_session'), '... the session cookie is sealed again');
    my $after = $b->get(url($vh, '/app/ondemand'));
    ok(token_of($after) && token_of($after) ne $tok, 'the backend then gets the new token');
    is(expiry_of($after), $j->{expires_on}, '... with that expiry');

    $before = grants()->{refresh_token};
    $res = $b->get(url($vh, '/.auth/refresh'));
    is($res->code, 429, '/.auth/refresh again at once: 429 (once per 30 s a session)');
    like($res->header('Retry-After') // '', qr/^[1-9]\d*$/, '... with Retry-After');
    is(grants()->{refresh_token} - $before, 0, '... and no call to Entra');

    my $c = new_ua();
    sign_in($c, $vh, '/app/ondemand-refused');
    mock_config({ token_error => { error => 'invalid_grant', code => 70043, status => 400 } });
    $res = $c->get(url($vh, '/.auth/refresh'));
    is($res->code, 401, '/.auth/refresh refused by Entra: 401');
    ok(cleared_cookie($res, 'entra_session'), '... and the session ends');
    mock_reset();

    my $nort = new_ua();
    is(sign_in($nort, 'sess_me', '/app/nort')->code, 200, 'sess_me (no offline_access): signed in');
    $res = $nort->get(url('sess_me', '/.auth/refresh'));
    is($res->code, 400, '/.auth/refresh without a refresh token: 400');
    is($nort->get(url('sess_me', '/app/nort'))->code, 200, '... the session goes on');
}

my @crit = grep { /\[auth_entra:(?:emerg|alert|crit)\]/ } log_since($mark);
is(scalar @crit, 0, 'nothing at crit or worse') or diag(join "\n", @crit);

done_testing();
