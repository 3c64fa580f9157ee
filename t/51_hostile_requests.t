# Hostile requests at the module: huge or malformed cookies, very long URLs and
# query strings, a spoof header folded over two lines, a bearer token that
# would crash a JOSE library. Always a clear 4xx or a new sign-in, never a
# 500, never a crashed child, and the state cookie stays small enough for a
# browser to keep.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use EntraTest;
use EntraSessions;

my $vh = 'entra_main';
mock_reset();
my $mark = log_mark();
my $raw = new_ua(no_cookies => 1);

# a huge session cookie (near httpd's 8190-byte header limit), invalid base64,
# and one truncated in the middle
for my $case (['huge', 'A' x 7000], ['not base64', '!!!***%%%' x 50], ['only dots', '.' x 300]) {
    my ($what, $value) = @$case;
    my $r = $raw->get(url($vh, '/app/hostile'), Cookie => "entra_session=$value", Accept => 'text/html');
    ok(is_login_redirect($r), "$what session cookie: a new sign-in") or diag($r->status_line);
}

# a long query string: the sign-in starts, and the state cookie stays far
# below the 4096 bytes a browser keeps for one cookie
{
    my $q = join '&', map { "p$_=" . ('x' x 90) } 1 .. 60;    # about 5.6 KB
    my $r = $raw->get(url($vh, "/app/long?$q"), Accept => 'text/html');
    ok(is_login_redirect($r), 'a 5.6 KB query string: a sign-in starts') or diag($r->status_line);
    my ($sc) = grep { /^entra_session_state_/ } set_cookie_headers($r);
    ok($sc, '... with a state cookie');
    cmp_ok(length($sc // ''), '<', 4096, '... that a browser can keep (' . length($sc // '') . ' bytes)');
}
{
    my $q = 'q=' . ('y' x 1500);
    my $ua = new_ua();
    my ($final) = sign_in($ua, $vh, "/app/back?$q");
    is($final->code, 200, 'a 1.5 KB query string: signed in');
    is((echo($final) || {})->{query}, $q, '... and back at the very same URL');
}

# a very long path (within httpd's LimitRequestLine): the sign-in starts,
# and the state cookie stays one a browser keeps
{
    my $r = $raw->get(url($vh, '/app/' . ('a' x 7000)), Accept => 'text/html');
    ok(is_login_redirect($r), 'a 7000-character path: a sign-in starts') or diag($r->status_line);
    my ($sc) = grep { /^entra_session_state_/ } set_cookie_headers($r);
    cmp_ok(length($sc // 'x' x 5000), '<', 4096, '... its state cookie fits a browser (' . length($sc // '') . ' bytes)');
}

# a bearer token with '=' inside a part (libcjose's decoder aborts the
# process on it), sent where bearer tokens are taken (AuthType Entra-Bearer,
# and a location with EntraAcceptBearer On): 401 invalid_token with the
# module's own reason, and the child lives on. A control byte in the header
# never reaches the module: httpd itself refuses the request (400).
{
    my $bvh = 'sess_bearer';
    my $m = log_mark();
    for my $path ('/api/odd', '/mixed/odd') {
        for my $t ('e=AA.e30.AAAA', 'eyJhbGciOiJSUzI1NiJ9.e30=.AAAA', 'eyJ=.eyJ=.AA==') {
            my $r = $raw->get(url($bvh, $path), Authorization => "Bearer $t",
                              Accept => 'application/json');
            is($r->code, 401, "$path, Bearer $t: 401");
            like($r->header('WWW-Authenticate') // '', qr/error="invalid_token"/,
                 '... error="invalid_token"');
        }
    }
    my @why = grep { /ENTRA00703: bearer token rejected: token is not a well-formed JWS/ } log_since($m);
    is(scalar @why, 6, '... each refused by the module itself, before any JOSE library (ENTRA00703)');
    my $r = $raw->get(url($bvh, '/api/odd'), Authorization => "Bearer a.b.c\x01",
                      Accept => 'application/json');
    is($r->code, 400, 'a control byte in the Authorization header: httpd refuses it (400)');
    $r = $raw->get(url($bvh, '/api/alive'), Authorization => 'Bearer ' . api_token(),
                   Accept => 'application/json');
    is($r->code, 200, '... and the server still answers: a good token is taken');
    my @crash = grep { /AH00052|exit signal|Segmentation|Aborted/ } log_since($mark);
    is(scalar @crash, 0, '... and no child died') or diag(join "\n", @crash);
}

# a spoof header folded over two lines (obsolete line folding): httpd joins
# the lines into one X-Entra-Claim-oid header, which the module strips like
# any other (t/60_spoofing.t checks the backend never sees one): the request
# is not signed in, so a sign-in starts
{
    my ($host, $port) = split /:/, hostport($vh);
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 5);
    ok($s, 'raw connection');
    if ($s) {
        print $s "GET /app/fold HTTP/1.1\r\nHost: $host:$port\r\nX-Entra-Claim-oid: a\r\n evil\r\n"
               . "Connection: close\r\n\r\n";
        my $status = <$s> // '';
        like($status, qr{^HTTP/1\.1 302 }, 'a folded X-Entra-Claim header: ' . ($status =~ s/\r?\n//r));
        close $s;
    }
}

my @bad = grep { /exit signal|\[auth_entra:(?:emerg|alert|crit)\]|Assertion/ } log_since($mark);
is(scalar @bad, 0, 'no crashed child, no crit line') or diag(join "\n", @bad);

done_testing();
