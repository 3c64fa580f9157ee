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

# a very long path: httpd or the module answers, never 500
{
    my $r = $raw->get(url($vh, '/app/' . ('a' x 7000)), Accept => 'text/html');
    ok($r->code == 302 || $r->code == 414 || $r->code == 400 || $r->code == 403,
       'a 7000-character path: ' . $r->code);
}

# a bearer-shaped Authorization header with '=' inside a part (libcjose's
# decoder aborts on it): refused, and the child lives on
{
    for my $t ('e=AA.e30.AAAA', 'eyJhbGciOiJSUzI1NiJ9.e30=.AAAA', "a.b.c\x01") {
        my $r = $raw->get(url($vh, '/app/bearer-ish'), Authorization => "Bearer $t",
                          Accept => 'application/json');
        ok($r->code == 401 || $r->code == 400, "Authorization: Bearer with odd bytes: " . $r->code);
    }
    my $r = $raw->get(url($vh, '/app/alive'), Accept => 'text/html');
    ok(is_login_redirect($r), '... and the server still answers');
}

# a spoof header folded over two lines (obsolete line folding): httpd refuses
# the request, so no X-Entra-* value can slip through
{
    my ($host, $port) = split /:/, hostport($vh);
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Timeout => 5);
    ok($s, 'raw connection');
    if ($s) {
        print $s "GET /app/fold HTTP/1.1\r\nHost: $host:$port\r\nX-Entra-Claim-oid: a\r\n evil\r\n"
               . "Connection: close\r\n\r\n";
        my $status = <$s> // '';
        like($status, qr{^HTTP/1\.1 (400|302)}, 'a folded X-Entra-Claim header: ' . ($status =~ s/\r?\n//r));
        close $s;
    }
}

my @bad = grep { /exit signal|\[auth_entra:(?:emerg|alert|crit)\]|Assertion/ } log_since($mark);
is(scalar @bad, 0, 'no crashed child, no crit line') or diag(join "\n", @bad);

done_testing();
