# Bearer tokens on one kept-alive connection: the module keeps the token
# the connection's last call was accepted with (src/bearer.c, "the
# connection's last token"), so that the next call with the same token
# skips its hash and the process cache. Nothing else may pass that way: a
# forged or other token on the same connection, the same token sent to
# another virtual host (Host header) on it, or the token once expired. All
# on one TCP connection, as a client library or a front proxy sends them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use MIME::Base64 qw(encode_base64url decode_base64url);
use EntraConn;
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();

# Two name-based virtual hosts on one port: api-a takes the app's tokens
# (no clock skew, so a token expires when it says); api-b is another app
# registration (another client id), which must refuse them.
my $OTHER_CLIENT = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
my $backend = $ENV{ENTRA_BACKEND_PORT};
my $vhosts = <<"EOC";
<VirtualHost *>
    ServerName api-a.test
    EntraClockSkew 0
    ProxyPass /api/ http://127.0.0.1:$backend/api/
    <Location /api>
        AuthType Entra-Bearer
        Require valid-user
        RequestHeader set X-Test-Vhost a
    </Location>
    <Location /api/read>
        Require entra-scope Tasks.Read
    </Location>
</VirtualHost>
<VirtualHost *>
    ServerName api-b.test
    EntraClientID $OTHER_CLIENT
    ProxyPass /api/ http://127.0.0.1:$backend/api/
    <Location /api>
        AuthType Entra-Bearer
        Require valid-user
        RequestHeader set X-Test-Vhost b
    </Location>
</VirtualHost>
EOC
my $S = eval { start_apache(name => 'bearer_conn', extra => $vhosts, access_log => 1) };
ok($S, 'a server with two API virtual hosts on one port starts') or diag($@);
unless ($S) { done_testing(); exit; }
my $mark = $S->log_mark;

my $conn = EntraConn->new($S->port);
ok($conn, 'one connection');

# A call with Authorization headers (@auth), and its answer
sub req {
    my ($host, $path, @auth) = @_;
    return EntraConn::request_text($host, $path, map { ['Authorization', $_] } @auth);
}
sub read_one { return $conn->read_one }
sub call {
    my ($host, $path, $token) = @_;
    return $conn->call($host, $path, ['Authorization', "Bearer $token"]);
}
sub oid_of { my $r = shift; return $r && backend_header($r, 'X-Entra-Claim-oid') }
sub code   { my $r = shift; return $r ? $r->code : 'closed' }

my $good = api_token_json();
my $A = $good->{token};
my $r = call('api-a.test', '/api/one', $A);
is(code($r), 200, 'a good token on api-a: 200') or diag($r && $r->as_string);
is(oid_of($r), $good->{claims}{oid}, '... its oid to the backend');
is(backend_header($r, 'X-Test-Vhost'), 'a', '... by api-a');
is(code(call('api-a.test', '/api/two', $A)), 200, '... the same token again on the connection: 200');

# the same token, the same connection, another virtual host (another app)
$r = call('api-b.test', '/api/one', $A);
is(code($r), 401, 'the same token on the same connection to api-b (another client id): 401');
is(code(call('api-a.test', '/api/three', $A)), 200, '... and api-a still takes it');

# forgeries that keep the accepted token's signature, or most of its text
my ($h, $p, $sig) = split /\./, $A;
my $claims = decode_base64url($p);
(my $forged_claims = $claims) =~ s/"oid"\s*:\s*"[^"]+"/"oid":"00000000-0000-0000-0000-000000000bad"/;
my @forged = (
    ['another payload, the accepted signature', join('.', $h, encode_base64url($forged_claims), $sig)],
    ['the accepted token with its last character changed',
     substr($A, 0, -1) . (substr($A, -1) eq 'A' ? 'B' : 'A')],
    ['the accepted token, cut short by one character', substr($A, 0, -1)],
    ['the accepted token and one character more', $A . 'A'],
);
for my $f (@forged) {
    $r = call('api-a.test', '/api/forged', $f->[1]);
    is(code($r), 401, "$f->[0], on the same connection: 401");
}
is(code(call('api-a.test', '/api/four', $A)), 200, '... the accepted token still: 200');

# pipelined in one write: the accepted token, a forgery, the token, no
# token, the token
$conn->send_text(join '', req('api-a.test', '/api/p1', "Bearer $A"),
    req('api-a.test', '/api/p2', 'Bearer ' . $forged[0][1]), req('api-a.test', '/api/p3', "Bearer $A"),
    req('api-a.test', '/api/p4'), req('api-a.test', '/api/p5', "Bearer $A"));
my @codes = map { code(read_one()) } 1 .. 5;
is("@codes", '200 401 200 401 200',
   'pipelined: the token, a forgery, the token, none, the token: 200 401 200 401 200');

# two Authorization headers, the accepted token first or second
$r = do { $conn->send_text(req('api-a.test', '/api/two-headers', "Bearer $A", 'Bearer ' . $forged[0][1])); read_one() };
is(code($r), 401, 'two Authorization headers, the accepted token first: 401');
$r = do { $conn->send_text(req('api-a.test', '/api/two-headers', 'Bearer ' . $forged[0][1], "Bearer $A")); read_one() };
is(code($r), 401, '... the accepted token second: 401');

# a location that wants a scope the token lacks: still 403 when the
# connection's token is found again
is(code(call('api-a.test', '/api/read/x', $A)), 403, 'a location that wants scope Tasks.Read: 403');
is(code(call('api-a.test', '/api/read/y', $A)), 403, '... and again with the token kept: 403');

# another good token on the connection: its own claims, not the last one's
my $app = api_token_json(app => 1);
$r = call('api-a.test', '/api/app', $app->{token});
is(code($r), 200, 'another good token (app-only) on the connection: 200');
is(backend_header($r, 'X-Entra-Claim-idtyp'), 'app', '... its own claims (idtyp app)');
isnt(oid_of($r), $good->{claims}{oid}, '... not the last token\'s oid');
$r = call('api-a.test', '/api/back', $A);
is(oid_of($r), $good->{claims}{oid}, 'the first token again: its claims again');

# a front proxy's connection: two clients' calls, one after the other
my @mixed = map { (oid_of(call('api-a.test', "/api/u$_", $A)), oid_of(call('api-a.test', "/api/v$_", $app->{token}))) } 1 .. 3;
is_deeply(\@mixed, [($good->{claims}{oid}, $app->{claims}{oid}) x 3],
          'two clients alternating on one connection: each call its own claims');

# a token that expires while the connection lives (api-a allows no skew)
my $short = api_token(exp_in => 2);
is(code(call('api-a.test', '/api/short', $short)), 200, 'a token with 2 s to live: 200');
sleep 3;
is(code(call('api-a.test', '/api/short', $short)), 401, '... on the same connection once it expired: 401');

my $calls = $conn->reads;
# one connection all along (the access log's remote port). Apache logs a
# call after its answer is sent: the last line may come a moment later.
my @ports;
for my $try (1 .. 50) {
    open my $fh, '<', "$S->{dir}/access_log" or die "access_log: $!";
    @ports = map { (split ' ')[1] } grep { m{ /api/} } <$fh>;
    close $fh;
    last if @ports >= $calls;
    select undef, undef, undef, 0.1;
}
my %ports = map { $_ => 1 } @ports;
is(scalar @ports, $calls, "every call logged ($calls)");
is(scalar keys %ports, 1, '... all on one connection');

# and the calls that brought the connection's last accepted token again
# found it kept (the module's trace): /api/two, /api/p1, /api/p5,
# /api/read/y and /api/u1. A refused token (another vhost's, a forgery,
# /api/p2, two headers) drops what the connection kept.
my $kept = grep { /the one this connection's last call was accepted with/ } $S->log_since($mark);
is($kept, 5, "the calls with the connection's last accepted token found it kept ($kept)");

$conn->close;
my @bad = grep { /exit signal|\[auth_entra:(?:emerg|alert|crit)\]|AddressSanitizer/ } $S->log_since($mark);
is(scalar @bad, 0, 'no crashed child, no crit line') or diag(join "\n", @bad);
$S->stop;
done_testing();
