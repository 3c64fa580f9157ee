# The module's own cookies (the session, its chunks, login states) are for
# Apache only: the backend gets the request's other cookies and never a
# sealed session it could log and someone could replay.  An internal
# redirect whose config authenticates again (here an ErrorDocument) still
# finds the user, though the cookies are gone from the request by then.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Cookies;
use EntraTest;
use EntraSessions;

# The Cookie header(s) the backend saw, joined.
sub backend_cookies {
    my $e = echo(shift) or return '<no echo>';
    my @v = echo_header($e, 'Cookie');
    return @v ? join('; ', @v) : '';
}

sub add_cookie {
    my ($ua, $vh, $name, $value) = @_;
    my ($host) = split /:/, hostport($vh);
    $host .= '.local' unless $host =~ /\./;     # HTTP::Cookies' name for a dotless host
    $ua->cookie_jar->set_cookie(0, $name, $value, '/', $host, undef, 0, 0, 3600, 0);
}

mock_reset();

# ---- a cookie session, with the app's own cookies next to it
{
    my $vh = 'entra_main';
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/first')->code, 200, 'signed in');
    ok(defined cookie_value($ua, 'entra_session'), '... the browser holds entra_session');
    add_cookie($ua, $vh, 'app_pref', 'dark');
    add_cookie($ua, $vh, 'app_sid', 'abc=def');
    my $r = $ua->get(url($vh, '/app/cookies'));
    is($r->code, 200, 'signed-in request: 200');
    my $seen = backend_cookies($r);
    unlike($seen, qr/entra_/, 'the backend sees no entra_* cookie') or diag($seen);
    like($seen, qr/(?:^|; )app_pref=dark(?:;|$)/, '... the app\'s cookies pass through');
    like($seen, qr/(?:^|; )app_sid=abc=def(?:;|$)/, '... values with "=" intact');
    is(echo_header(echo($r), 'X-Test-Remote-User'), USER->{preferred_username},
       '... and the user is known');

    # a request carrying only the module's cookies: no Cookie header at all
    my $session = cookie_value($ua, 'entra_session');
    $r = raw_get($vh, '/app/only-ours', "entra_session=$session; entra_session_state_x=y");
    is($r->code, 200, 'only the module\'s cookies: 200');
    is(scalar(() = echo_header(echo($r), 'Cookie')), 0, '... and the backend gets no Cookie header');
}

# ---- a chunked session: none of the chunks reach the backend
{
    my $vh = 'sess_chunks';
    my $noise = join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 5000;
    mock_config({ user => { groups_count => 100, noise => $noise } });
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/app/chunks')->code, 200, 'signed in with a chunked session');
    ok(defined cookie_value($ua, 'entra_session_1'), '... two chunks in the browser');
    add_cookie($ua, $vh, 'keep', '1');
    my $r = $ua->get(url($vh, '/app/chunks-again'));
    is($r->code, 200, 'chunked session: 200');
    is(backend_cookies($r), 'keep=1', '... the backend sees only the app\'s cookie');
    mock_reset();
}

# ---- internal redirect (ErrorDocument 404 /oops) that authenticates again
{
    my $vh = 'hostile_root';
    my $ua = new_ua();
    is(sign_in($ua, $vh, '/first')->code, 200, 'hostile_root: signed in');
    my $r = $ua->get(url($vh, '/files/missing'));
    my $e = echo($r);
    is($e && $e->{path}, '/oops', 'a missing file: answered by the ErrorDocument from the backend')
        or diag($r->status_line . ' ' . ($r->header('Location') // ''));
    is($e && echo_header($e, 'X-Test-Remote-User'), USER->{preferred_username},
       '... which knows the user (the earlier request\'s session)');
    unlike(backend_cookies($r), qr/entra_/, '... and sees no entra_* cookie');
}

# ---- bearer requests: cookies of ours that came along are dropped too
{
    my $token = api_token();
    my $r = raw_get('sess_bearer', '/api/cookies', 'entra_session=whatever; app=1',
                    Authorization => "Bearer $token");
    is($r->code, 200, 'bearer request with cookies: 200');
    is(backend_cookies($r), 'app=1', '... the backend sees only the app\'s cookie');
}

done_testing();
