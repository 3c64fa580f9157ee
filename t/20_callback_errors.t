# The callback's error paths: Entra's error=, and missing, bad, foreign,
# tampered and replayed state. What the module itself does is asserted (the
# status, the log line, whether it asked Entra: the mock's request counters
# before and after), not only that the mock refused a code.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use URI;
use URI::Escape qw(uri_escape);
use EntraTest;

my $vh = 'entra_main';
my $cb_path = '/.auth/login/aad/callback';

# ---- Entra says no: error= / error_description= (AADSTS...)
{
    mock_reset();
    my $desc = q{AADSTS65004: User declined to consent <script>alert("x")</script> & <b>bold</b>.};
    mock_config({ authorize_error => { error => 'access_denied', error_description => $desc } });
    my $mark = log_mark();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/app/consent');
    my $cp = $s->{callback_params} || {};
    # preconditions: the mock behaves as Entra (error= with trace and correlation ids)
    ($cp->{error} // '') eq 'access_denied'
        or BAIL_OUT('the mock did not come back with error=access_denied');
    my ($trace) = ($cp->{error_description} // '') =~ /Trace ID:\s*([0-9a-f-]{36})/;
    my ($corr)  = ($cp->{error_description} // '') =~ /Correlation ID:\s*([0-9a-f-]{36})/;
    $trace && $corr or BAIL_OUT('the mock\'s error_description has no trace and correlation ids');

    my $r = $s->{callback};
    is($r && $r->code, 401, 'error callback: 401');
    my $body = $r ? $r->decoded_content : '';
    like($body, qr/AADSTS65004/, '... page shows the AADSTS code');
    like($body, qr/User declined to consent/, '... and the description');
    like($body, qr/&lt;script&gt;/, '... HTML-escaped');
    unlike($body, qr/<script>alert/i, '... no injected <script>');
    unlike($body, qr/<b>bold/i, '... no injected markup');
    like(scalar($r ? $r->header('Content-Type') : '') // '', qr{^text/html}i, '... text/html');
    ok(length($body) < 8192, '... short page');
    ok(!find_set_cookie($r, 'entra_session'), '... no session cookie');
    my @l = grep { /65004/ } entra_lines($mark);
    ok(scalar @l, 'log line names AADSTS65004') or diag(join "\n", entra_lines($mark));
    ok(scalar(grep { $trace && /\Q$trace\E/ } @l), '... with the trace id');
    ok(scalar(grep { $corr && /\Q$corr\E/ } @l), '... and the correlation id');
    # Entra's description spans lines (\r\n Trace ID: ...): it must not split the log line
    my @forged = grep { !/^\[/ } log_since($mark);
    is(scalar @forged, 0, '... one log line: the description cannot start lines of its own')
        or diag(join "\n", @forged);
    mock_reset();
}

# ---- an error= that belongs to no login attempt of this browser is not
# reported as Entra's: 400 like any other unknown state (and no log line
# pretending Entra said so)
{
    my $ua = new_ua();
    start_login($ua, $vh, '/app/forged-error');
    my $mark = log_mark();
    my $r = $ua->get(url($vh, "$cb_path?error=access_denied&error_description="
                            . uri_escape('AADSTS50105: forged by a third party') . '&state=not-a-real-state'));
    is($r->code, 400, 'error= with an unknown state: 400');
    ok(!grep({ /50105/ } entra_problems($mark)), '... not logged as an Entra refusal');
    $r = $ua->get(url($vh, "$cb_path?error=access_denied&error_description=x"));
    is($r->code, 400, 'error= without state: 400');
}

# ---- no state at all
{
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/nostate');      # the browser holds a state cookie
    my $r = $ua->get(url($vh, "$cb_path?code=abc"));
    is($r->code, 400, 'callback without state: 400');
    $r = $ua->get(url($vh, $cb_path));
    is($r->code, 400, 'callback without anything: 400');
}

# ---- a state no cookie matches
{
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/badstate');
    my $authz = authorize_at_mock($ua, $start);
    my $cb = URI->new(abs_location($authz));
    my %q = %{ query_params($cb) };
    $q{state} = 'Zm9yZ2VkLXN0YXRlLXZhbHVlLXh5eg';
    $cb->query_form(%q);
    my $tokens = token_requests();
    my $r = $ua->get($cb);
    is($r->code, 400, 'callback with an unknown state: 400');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    is(token_requests(), $tokens, '... and no token request');
    # the real state still works afterwards (the code was not spent)
    my $ok = finish_callback($ua, $authz);
    is($ok->code, 302, '... and the genuine callback still succeeds');
}

# ---- the state of another browser (login CSRF / stolen link)
{
    my $victim = new_ua();
    my $start = start_login($victim, $vh, '/app/csrf');
    my $authz = authorize_at_mock($victim, $start);
    my $attacker = new_ua();
    my $tokens = token_requests();
    my $r = $attacker->get(abs_location($authz));
    is($r->code, 400, 'callback in a browser without the state cookie: 400');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    is(token_requests(), $tokens, '... and no token request (the victim\'s code is not redeemed)');
}

# ---- no code and no error
{
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/nocode');
    my $state = query_params(abs_location($start))->{state};
    my $r = $ua->get(url($vh, "$cb_path?state=" . uri_escape($state)));
    is($r->code, 400, 'callback with a valid state but no code: 400');
}

# ---- tampered state cookie
{
    my $ua = new_ua();
    my $start = start_login($ua, $vh, '/app/tamper');
    my $state = query_params(abs_location($start))->{state};
    my $v = cookie_value($ua, "entra_session_state_$state") // '';
    my $i = int(length($v) / 2);
    substr($v, $i, 1) = substr($v, $i, 1) eq 'A' ? 'B' : 'A';
    my $authz = authorize_at_mock($ua, $start);
    my $raw = new_ua(no_cookies => 1);
    my $tokens = token_requests();
    my $r = $raw->get(abs_location($authz), Cookie => "entra_session_state_$state=$v");
    is($r->code, 400, 'tampered state cookie: 400');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    is(token_requests(), $tokens, '... and no token request');
}

# ---- replay: the same callback twice
sub token_requests { return mock_stats()->{requests}{token} // 0 }

for my $store (['cookie store', 'entra_main'], ['socache store (shmcb)', 'entra_st_shmcb']) {
    my ($what, $rvh) = @$store;
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $rvh, '/app/replay');
    is($final->code, 200, "$what: signed in");
    my $state = $s->{authorize_params}{state};
    my $state_cookie = find_set_cookie($s->{start}, "entra_session_state_$state") // '';
    my ($sc_value) = $state_cookie =~ /^[^=]+=([^;]*)/;
    ok(length($sc_value // ''), "$what: ... the state cookie was set") or next;

    # the same browser: the state cookie went with the first callback, so the
    # module refuses before it asks Entra anything
    my $before = mock_stats()->{requests};
    my $mark = log_mark();
    my $r = $ua->get($s->{callback_url});
    is($r->code, 400, "$what: replayed callback (same browser, state cookie gone): 400");
    ok(!find_set_cookie($r, 'entra_session'), "$what: ... no session");
    is_deeply(mock_stats()->{requests}, $before, "$what: ... not one request to the IdP");
    my @l = entra_lines($mark);
    ok(scalar(grep { /ENTRA00206:.*no state cookie/ } @l), "$what: ... logged as ENTRA00206")
        or diag(join "\n", @l);

    # the old state cookie put back (captured, or copied out of the browser)
    my $raw = new_ua(no_cookies => 1);
    my $tokens = token_requests();
    $mark = log_mark();
    $r = $raw->get($s->{callback_url}, Cookie => "entra_session_state_$state=$sc_value");
    is($r->code, 400, "$what: replayed callback with the old state cookie: 400");
    ok(!find_set_cookie($r, 'entra_session'), "$what: ... no session");
    @l = entra_lines($mark);
    if ($rvh eq 'entra_st_shmcb') {
        # a socache store keeps the states used: the module itself refuses
        is(token_requests(), $tokens, "$what: ... no second token request (the store knows the state was used)");
        ok(scalar(grep { /ENTRA00214:.*already used/ } @l), "$what: ... logged as a replay (ENTRA00214)")
            or diag(join "\n", @l);
    }
    else {
        # the cookie store keeps nothing on the server: the sealed state is
        # valid, so the module redeems the code once more and Entra refuses it
        is(token_requests(), $tokens + 1,
           "$what: ... the module cannot know the state was used: one more token request");
        ok(scalar(grep { /ENTRA00207:.*error=invalid_grant.*AADSTS54005/ } @l),
           "$what: ... which Entra refuses (ENTRA00207, invalid_grant, AADSTS54005)")
            or diag(join "\n", @l);
        ok(!grep({ /ENTRA00214/ } @l), "$what: ... not logged as a replay the module saw");
    }
}

# ---- a code used twice: a fresh sign-in attempt carrying a spent code
{
    mock_reset();
    my $ua = new_ua();
    my ($final, $s) = sign_in($ua, $vh, '/app/code-once');
    is($final->code, 200, 'signed in with a code');
    my $spent = $s->{callback_params}{code};
    (mock_stats()->{last}{token}{code} // '') eq ($spent // '-')
        or BAIL_OUT('the mock did not see the code redeemed by the sign-in');
    my $mark = log_mark();
    my $other = new_ua();
    my $start = start_login($other, $vh, '/app/code-twice');
    my $state = query_params(abs_location($start))->{state};
    my $tokens = token_requests();
    my $r = $other->get(url($vh, "$cb_path?code=" . uri_escape($spent) . '&state=' . uri_escape($state)));
    # the module cannot know a code is spent: it asks, Entra says no
    is(token_requests(), $tokens + 1, 'the spent code with a fresh state: sent to the token endpoint once more');
    is(mock_stats()->{last}{token}{code}, $spent, '... the spent code itself');
    is($r->code, 400, '... Entra\'s refusal (invalid_grant): 400');
    like($r->decoded_content, qr/not accepted/, '... the page says the code was not accepted');
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    unlike($r->decoded_content, qr/\Q$spent\E/, '... the page does not echo the code');
    my @l = entra_lines($mark);
    ok(scalar(grep { /ENTRA00207:.*error=invalid_grant.*AADSTS54005/ } @l),
       '... the log says Entra refused the code (ENTRA00207, invalid_grant, AADSTS54005)') or diag(join "\n", @l);
}

# ---- methods other than GET and POST at the callback
for my $m (qw(PUT DELETE PATCH OPTIONS)) {
    my $ua = new_ua();
    my $start = start_login($ua, $vh, "/app/method-$m");
    my $authz = authorize_at_mock($ua, $start);
    my $req = HTTP::Request->new($m => abs_location($authz));
    $req->header('Content-Length' => 0);
    my $r = $ua->request($req);
    is($r->code, 405, "$m at the callback: 405");
    like($r->header('Allow') // '', qr/GET.*POST/, "... Allow: GET, POST");
    ok(!find_set_cookie($r, 'entra_session'), '... no session');
    # the attempt was not spent by the wrong method: GET still completes it
    is(finish_callback($ua, $authz)->code, 302, "... and the same callback by GET still signs in");
}

# ---- garbage in every parameter: 400, never 500
{
    my $ua = new_ua();
    for my $qs ('state=' . ('A' x 5000) . '&code=x',
                'state=%00%ff%fe&code=%00',
                'state=a&state=b&code=c&code=d',
                'error=&state=',
                'code=' . ('x' x 7000)) {
        my $r = $ua->get(url($vh, "$cb_path?$qs"));
        is($r->code, 400, "garbage callback (" . substr($qs, 0, 30) . "...): 400")
            or diag($r->status_line);
    }
}

done_testing();
