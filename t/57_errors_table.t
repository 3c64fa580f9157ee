# The README's "Errors an administrator sees", row by row, checked exactly:
# the status, the page, and the log line with its ENTRAnnnnn id at the level
# the row names (and the AADSTS code, trace and correlation ids where it says
# so).  Rows whose set-up belongs elsewhere (a store that goes down or
# restarts, a front-channel logout flood, ...) are checked as exactly in the
# files the README's table names.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use Cwd qw(abs_path);
use URI;
use URI::Escape qw(uri_escape);
use Apache::Test ();
use EntraTest;
use EntraSessions qw(raw_get api_token);

my $vh = 'entra_main';
my $cb_path = '/.auth/login/aad/callback';
my $GUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

# ---- Entra sends error= to the callback: 401, a short page with Entra's
# message; log: ENTRA00205 at error with the AADSTS code, trace and
# correlation ids
{
    mock_reset();
    mock_config({ authorize_error => { error => 'access_denied',
                                       error_description => 'AADSTS50105: The signed in user is not assigned to a role.' } });
    my $mark = log_mark();
    my ($final, $s) = sign_in(new_ua(), $vh, '/app/row-aadsts');
    my $desc = $s->{callback_params}{error_description} // '';
    my ($trace) = $desc =~ /Trace ID:\s*($GUID)/;
    my ($corr)  = $desc =~ /Correlation ID:\s*($GUID)/;
    ok($trace && $corr, 'precondition: Entra\'s description carries trace and correlation ids')
        or BAIL_OUT('the mock sends no trace/correlation ids with error=');
    my $r = $s->{callback};
    is($r->code, 401, 'Entra error=: 401');
    like($r->decoded_content, qr{<title>Sign-in failed</title>}, '... the "Sign-in failed" page');
    like($r->decoded_content, qr/Microsoft Entra ID reported: AADSTS50105: The signed in user is not assigned to a role\./,
         '... with Entra\'s message');
    ok(length($r->content) < 4096, '... short');
    my $l = one_line($mark, 'ENTRA00205', 'error', 'Entra error=');
    like($l, qr/error=access_denied description="AADSTS50105: /, '... the error and the AADSTS code');
    like($l, qr/trace_id=\Q$trace\E\b/, '... the trace id');
    like($l, qr/correlation_id=\Q$corr\E\b/, '... the correlation id');
    mock_reset();
}

# ---- the token endpoint refuses the code (invalid_grant): 400; log:
# ENTRA00207 at error with the AADSTS code, trace and correlation ids
{
    mock_reset();
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/row-invalid-grant');
    my $authz = authorize_at_mock($ua, $start);
    mock_config({ token_error => { error => 'invalid_grant', code => 70008, status => 400 } });
    my $mark = log_mark();
    my $r = finish_callback($ua, $authz);
    mock_reset();
    is($r->code, 400, 'invalid_grant: 400');
    like($r->decoded_content, qr{<title>Sign-in could not be completed</title>}, '... the "could not be completed" page');
    like($r->decoded_content, qr/sign-in code was not accepted/, '... saying the code was not accepted');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    my $l = one_line($mark, 'ENTRA00207', 'error', 'invalid_grant');
    like($l, qr/error=invalid_grant description="AADSTS70008: /, '... the error and the AADSTS code');
    like($l, qr/trace_id=$GUID\b/, '... the trace id');
    like($l, qr/correlation_id=$GUID\b/, '... the correlation id');
}

# ---- a bad token (here: for another app): 401; log: one ENTRA00208 at
# error with the reason (every kind of bad token: t/30_bad_tokens.t)
{
    mock_reset();
    mock_config({ bad_token => 'wrong_aud' });
    my $mark = log_mark();
    my ($final, $s) = sign_in(new_ua(), $vh, '/app/row-bad-token');
    mock_reset();
    my $r = $s->{callback};
    is($r->code, 401, 'a token for another app: 401');
    like($r->decoded_content, qr/identity token could not be validated/, '... a page that says so');
    my $l = one_line($mark, 'ENTRA00208', 'error', 'bad token');
    like($l, qr/ID token rejected: .*\baud/, '... with the reason');
    my @problems = entra_problems($mark, wait => 0);
    is(scalar @problems, 1, '... and no other warn/error line') or diag(join "\n", @problems);
}

# ---- a token outside EntraClockSkew: the ENTRA00208 line gives the
# seconds it is off, and names EntraClockSkew and NTP
for my $case (['not_yet_valid', qr/token is not yet valid \(nbf\): in the future by (\d+) s, beyond EntraClockSkew (\d+) s/],
              ['expired',       qr/token has expired \(exp\): in the past by (\d+) s, beyond EntraClockSkew (\d+) s/]) {
    my ($kind, $re) = @$case;
    mock_reset();
    mock_config({ bad_token => $kind });
    my $mark = log_mark();
    my ($final, $s) = sign_in(new_ua(), $vh, "/app/row-skew-$kind");
    mock_reset();
    is($s->{callback} && $s->{callback}->code, 401, "ID token $kind: 401");
    my $l = one_line($mark, 'ENTRA00208', 'error', "ID token $kind");
    my ($off, $skew) = $l =~ $re;
    ok($off && abs($off - 3600) <= 5, "... the seconds it is off ($off, the mock's 3600)") or diag($l);
    ok(defined $skew && $skew > 0, "... and EntraClockSkew's value ($skew s)") or diag($l);
    like($l, qr/\bNTP\b/, '... and says to check NTP');
}

# ---- a wrong tenant: discovery answers Entra's own error (400
# invalid_tenant, AADSTS90002); 502 and one ENTRA00202 error line with
# Entra's description, and what to check
{
    mock_reset();
    my $mark = log_mark();
    my $r = new_ua()->get(url('errors_wrong_tenant', '/app/row-wrong-tenant'));
    is($r->code, 502, 'a tenant Entra does not know: 502');
    like($r->decoded_content, qr/Sign-in is unavailable/, '... a short page');
    my $l = one_line($mark, 'ENTRA00202', 'error', 'wrong tenant');
    like($l, qr/HTTP status 400: error=invalid_tenant description="AADSTS90002: Tenant '0badc0de-1111-4222-8333-944445555666' not found\./,
         '... with Entra\'s error and AADSTS description, not only "HTTP 400"');
    like($l, qr/trace_id=$GUID\b.*correlation_id=$GUID\b/, '... the trace and correlation ids');
    like($l, qr/check EntraTenant/, '... and what to check');
}

# ---- bearer tokens: a refused one is 401 invalid_token and one ENTRA00703
# line at info (any client can send one; nothing at warn or worse), with the
# reason -- the seconds off for times
{
    my $bv = 'sess_bearer';
    for my $case ([{ expired => 1 }, qr/token has expired \(exp\): in the past by \d+ s, beyond EntraClockSkew \d+ s .*NTP/, 'expired'],
                  [{ nbf_in => 900 }, qr/token is not yet valid \(nbf\): in the future by (?:89\d|90\d) s, beyond EntraClockSkew \d+ s .*NTP/, 'not yet valid'],
                  [{ wrong_aud => 1 }, qr/audience \(aud\)/, 'for another app']) {
        my ($q, $re, $what) = @$case;
        my $t = api_token(%$q);
        my $mark = log_mark();
        my $r = raw_get($bv, '/api/user/row', undef, Authorization => "Bearer $t");
        is($r->code, 401, "bearer token $what: 401");
        like($r->header('WWW-Authenticate') // '', qr/^Bearer\b.*\berror="invalid_token"/, '... invalid_token');
        my $l = one_line($mark, 'ENTRA00703', 'info', "bearer token $what");
        like($l, $re, '... with the reason');
        is(scalar(entra_problems($mark, wait => 0)), 0, '... and nothing at warn or worse');
    }

    # a bearer token lacking the scope a location requires: 403 with
    # WWW-Authenticate: Bearer error="insufficient_scope", scope="..." (RFC
    # 6750 3.1); log: ENTRA00601 at info
    my $mark = log_mark();
    my $r = raw_get($bv, '/api/read/row', undef, Authorization => 'Bearer ' . api_token(scp => 'access_as_user'));
    is($r->code, 403, 'bearer token without the scope: 403');
    like($r->header('WWW-Authenticate') // '', qr/^Bearer realm="[^"]*", error="insufficient_scope", error_description="[^"]+", scope="Tasks\.Read"$/,
         '... WWW-Authenticate: Bearer error="insufficient_scope", scope="Tasks.Read"');
    my $l = one_line($mark, 'ENTRA00601', 'info', 'insufficient scope');
    like($l, qr/requires the scope Tasks\.Read/, '... naming the scope');
    # an app-only token (no scp at all) lacks it too
    $r = raw_get($bv, '/api/user/row', undef, Authorization => 'Bearer ' . api_token(app => 1));
    is($r->code, 403, 'an app-only token (no scp) where a scope is required: 403');
    like($r->header('WWW-Authenticate') // '', qr/error="insufficient_scope", .*scope="access_as_user"/, '... insufficient_scope');
    # a denial for a role is no scope matter
    $r = raw_get($bv, '/api/admin/row', undef, Authorization => 'Bearer ' . api_token(roles => 'Task.Read'));
    is($r->code, 403, 'bearer token without the role: 403');
    unlike($r->header('WWW-Authenticate') // '', qr/insufficient_scope/, '... not insufficient_scope');
    # with the scope: 200, no challenge
    $r = raw_get($bv, '/api/read/row', undef, Authorization => 'Bearer ' . api_token(scp => 'access_as_user Tasks.Read'));
    is($r->code, 200, 'with the scope: 200');
    ok(!defined $r->header('WWW-Authenticate'), '... no challenge');
}

# ---- unknown and replayed state: 400; log: ENTRA00206, at warn with the
# likely causes when the browser brought no state cookie (the usual way a
# set-up goes wrong), at info when it did but the cookie does not open
{
    my $ua = new_ua();
    start_login($ua, $vh, '/app/row-unknown-state');
    my $mark = log_mark();
    my $r = $ua->get(url($vh, "$cb_path?code=x&state=" . uri_escape('Zm9yZ2VkLXN0YXRlLXZhbHVlLXh5eg')));
    is($r->code, 400, 'unknown state: 400');
    like($r->decoded_content, qr/unknown, expired or already used/, '... the "unknown, expired or already used" page');
    my $l = one_line($mark, 'ENTRA00206', 'warn', 'unknown state');
    like($l, qr/callback refused: no state cookie.*likely causes: a Secure cookie over plain http/,
         '... saying why, with the likely causes');
    is(scalar(entra_problems($mark, wait => 0)), 1, '... that line only at warn or worse');

    mock_reset();
    my ($final, $s) = sign_in($ua, $vh, '/app/row-replayed-state');
    is($final->code, 200, 'signed in');
    my $tokens = mock_stats()->{requests}{token} // 0;
    $mark = log_mark();
    $r = $ua->get($s->{callback_url});
    is($r->code, 400, 'replayed state: 400');
    like($r->decoded_content, qr/unknown, expired or already used/, '... the same page');
    is(mock_stats()->{requests}{token} // 0, $tokens, '... refused before any token request');
    one_line($mark, 'ENTRA00206', 'warn', 'replayed state');
    # an expired state: the state unit tests (entra_state_open past expires)
}

# ---- tampered or foreign session cookie: a new sign-in, never 500; log:
# ENTRA00402 at debug
{
    mock_reset();
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/row-cookie')->code, 200, 'signed in at entra_main');
    my $v = cookie_value($ua, 'entra_session') // '';
    my $i = int(length($v) / 2);
    substr($v, $i, 1) = substr($v, $i, 1) eq 'A' ? 'B' : 'A';
    my $raw = new_ua(no_cookies => 1);
    my $mark = log_mark();
    my $r = $raw->get(url($vh, '/app/row-cookie'), Cookie => "entra_session=$v");
    ok(is_login_redirect($r), 'a tampered session cookie: a new sign-in') or diag($r->status_line);
    one_line($mark, 'ENTRA00402', 'debug', 'tampered cookie');
    ok(!entra_problems($mark, wait => 0), '... nothing at warn or worse');

    my $other = new_ua();
    is(sign_in($other, 'entra_otherkey', '/app/row-foreign')->code, 200, 'signed in at entra_otherkey (another key)');
    my $foreign = cookie_value($other, 'entra_session') // '';
    $mark = log_mark();
    $r = $raw->get(url($vh, '/app/row-cookie'), Cookie => "entra_session=$foreign");
    ok(is_login_redirect($r), 'another app\'s session cookie: a new sign-in') or diag($r->status_line);
    one_line($mark, 'ENTRA00402', 'debug', 'foreign cookie');
    ok(!entra_problems($mark, wait => 0), '... nothing at warn or worse');
    # an expired one: t/95_session_expiry.t
}

# ---- a cookie session bigger than the browser can send back
# (LimitRequestFieldSize 8190 on edge_big): 500, a page that says so; log:
# ENTRA00405 at error
{
    mock_reset();
    my $noise = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[int rand 62] } 1 .. 12_000;
    mock_config({ user => { noise => $noise } });
    my $mark = log_mark();
    my ($final, $s) = sign_in(new_ua(), 'edge_big', '/app/row-too-big');
    mock_reset();
    my $r = $s->{callback};
    is($r && $r->code, 500, 'a session needing more cookies than LimitRequestFieldSize lets back: 500');
    like($r ? $r->decoded_content : '', qr/more information than this server can keep/, '... a page that says so');
    ok($r && !find_set_cookie($r, qr/^entra_session_[0-9a-f]{8}(?:_\d+)?$/), '... no session cookie');
    my $l = one_line($mark, 'ENTRA00405', 'error', 'cookie session too big');
    like($l, qr/needs \d+ cookies, more than LimitRequestFieldSize 8190/, '... saying why');
}

# ---- two apps whose cookie names collide: warn at start-up (ENTRA00108),
# which configtest shows too
{
    my $cfg = Apache::Test::config();
    my $t_dir = abs_path($cfg->{vars}{t_dir});
    my $httpd = $cfg->{vars}{httpd};
    my $so = abs_path(File::Spec->catfile($t_dir, '..', '.libs', 'mod_auth_entra.so'));
    SKIP: {
        skip 'no httpd binary or module', 4 unless $httpd && $so && -f $so;
        local $ENV{ENTRA_T_DIR}         = $t_dir;
        local $ENV{ENTRA_BAD_DIR}       = "$t_dir/conf/bad";
        local $ENV{ENTRA_MODULE_SO}     = $so;
        local $ENV{ENTRA_HTTPD_MODULES} = $cfg->apxs('LIBEXECDIR') || '/usr/lib/apache2/modules';
        my $conf = File::Spec->catfile($t_dir, 'logs', 'cookie_clash.conf');
        open my $fh, '>', $conf or die "$conf: $!";
        print $fh qq{Include "\${ENTRA_BAD_DIR}/base.inc"\n};
        for my $id ('6731de76-14a6-49ae-97bc-6eba6914391e', '0e8f6c2a-4b1d-4c3e-9f7a-2d5b8a1c3e4f') {
            print $fh <<"CONF";
<VirtualHost 127.0.0.1:9>
    EntraTenant       4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d
    EntraClientID     $id
    EntraClientSecret file:\${ENTRA_T_DIR}/conf/client_secret.txt
    EntraSessionKey   0123456789abcdef0123456789abcdef
    EntraCookieName   shared_session
    <Location /app>
        AuthType Entra
        Require valid-user
    </Location>
</VirtualHost>
CONF
        }
        close $fh;
        my $out = `'$httpd' -t -f '$conf' 2>&1`;
        is($? >> 8, 0, 'two apps with one cookie name: the configuration still loads') or diag($out);
        my @l = grep { /ENTRA00108:/ } split /\n/, $out;
        is(scalar @l, 1, '... one ENTRA00108 line') or diag($out);
        like($l[0] // '', qr/\[auth_entra:warn\]/, '... at warn');
        like($l[0] // '', qr/two apps use the session cookie name (?:__Host-)?shared_session\b/, '... naming the cookie');
    }
}

# ---- README Security, Logout: front-channel logout takes only GUID sids.
# A sid that is no GUID, sent as Entra's front-channel iframe would, is no
# front-channel logout (no ENTRA00505): a cross-site logout, so the
# confirmation page (ENTRA00503); a GUID one is (ENTRA00505).
{
    my %fc = ('Sec-Fetch-Site' => 'cross-site', 'Sec-Fetch-Mode' => 'navigate',
              'Sec-Fetch-Dest' => 'iframe', 'Referer' => mock_url('/'));
    my $raw = new_ua(no_cookies => 1);
    my $mark = log_mark();
    my $r = $raw->get(url($vh, '/.auth/logout?sid=not-a-guid-' . ('x' x 20)), %fc);
    is($r->code, 200, 'front-channel logout with a sid that is no GUID: 200');
    unlike($r->decoded_content, qr{<title>Signed out</title>}, '... not the front-channel answer');
    my ($at) = lines_with($mark, 'ENTRA00505', 'info');
    is(scalar @$at, 0, '... no front-channel logout (no ENTRA00505)');
    one_line($mark, 'ENTRA00503', 'info', '... the confirmation page instead');
    $mark = log_mark();
    $r = $raw->get(url($vh, '/.auth/logout?sid=0b6f3e2a-1c4d-4e5f-8a9b-7c6d5e4f3a2b'), %fc);
    is($r->code, 200, 'a GUID sid: 200');
    like($r->decoded_content, qr{<title>Signed out</title>}, '... the front-channel answer');
    one_line($mark, 'ENTRA00505', 'info', 'GUID sid');
}

done_testing();
