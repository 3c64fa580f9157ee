# Cookie sessions on one kept-alive connection: the module keeps the
# session the connection's last Cookie header opened (src/connkept.h), so
# that the next request with the same header skips the cookie walk and the
# process copies. Nothing else may pass that way: a forged or other session
# cookie on the same connection, the same header sent to another app
# (another client id, the same EntraSessionKey) on it, a session ended by
# front-channel logout while the connection lives, or one that expired.
# All on one TCP connection, as a browser or a front proxy sends them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HTTP::Request;
use EntraConn;
use EntraTest;
use EntraSessions;
use EntraStores;

mock_reset();

# The first virtual host is the app (the server's own settings, the
# session's max age an hour); app-b.test is another app registration
# (another client id) with the same EntraSessionKey, which must refuse
# the first app's sessions.
my $OTHER_CLIENT = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
my $vhosts = <<"EOC";
EntraSessionMaxAge 3600
<VirtualHost *>
    ServerName localhost
</VirtualHost>
<VirtualHost *>
    ServerName app-b.test
    EntraClientID $OTHER_CLIENT
</VirtualHost>
EOC
my $S = eval { start_apache(name => 'session_conn', extra => $vhosts, access_log => 1) };
ok($S, 'a server with two apps on one port starts') or diag($@);
unless ($S) { done_testing(); exit; }
my $mark = $S->log_mark;
my $host = 'localhost:' . $S->port;

# A user signed in in a browser: the Cookie header it sends, its oid, its sid.
sub browser {
    my ($path) = @_;
    my $ua = new_ua();
    my $r = sign_in_at($ua, $S->url($path));
    is($r->code, 200, "signed in at $path") or diag($r->as_string);
    my $req = HTTP::Request->new(GET => $S->url($path));
    $ua->cookie_jar->add_cookie_header($req);
    return { cookie => scalar $req->header('Cookie'), oid => backend_header($r, 'X-Entra-Claim-oid'),
             sid => session_sid($r), user => backend_header($r, 'X-Test-Remote-User') };
}

my $A = browser('/app/a');
mock_config({ user => { preferred_username => 'bob@contoso.test',
                        oid => '00000000-0000-0000-0000-00000000b0b0' } });
my $B = browser('/app/b');
isnt($B->{oid}, $A->{oid}, 'two users, two oids');
my $C = browser('/app/c');
isnt($C->{sid}, $A->{sid}, '... and a third session with a sid of its own');
ok($A->{cookie} =~ /\bentra_session=([^;]+)/, "the first user's Cookie header holds the session");
my $session_a = $1;

my $conn = EntraConn->new($S->port);
ok($conn, 'one connection');

# A request with Cookie headers (@cookies), and its answer
sub req {
    my ($vhost, $path, @cookies) = @_;
    return EntraConn::request_text($vhost, $path, map { ['Cookie', $_] } @cookies);
}
sub read_one { return $conn->read_one }
sub call {
    my ($vhost, $path, @cookies) = @_;
    return $conn->call($vhost, $path, map { ['Cookie', $_] } @cookies);
}
sub oid_of { my $r = shift; return $r && $r->code == 200 ? backend_header($r, 'X-Entra-Claim-oid') : undef }
sub code   { my $r = shift; return $r ? $r->code : 'closed' }
sub signin { my $r = shift; return $r && is_login_redirect($r) ? 'sign-in' : code($r) }

my $r = call($host, '/app/one', $A->{cookie});
is(code($r), 200, "the first user's Cookie header on the connection: 200") or diag($r && $r->as_string);
is(oid_of($r), $A->{oid}, '... their oid to the backend');
is(backend_header($r, 'X-Test-Remote-User'), $A->{user}, '... REMOTE_USER');
ok($A->{user}, "... (the first user's: $A->{user})");
unlike(backend_header($r, 'Cookie') // '', qr/entra_session/, '... and no session cookie to the backend');
$r = call($host, '/app/two', $A->{cookie});
is(oid_of($r), $A->{oid}, 'the same header again on the connection: the same user');
unlike(backend_header($r, 'Cookie') // '', qr/entra_session/, '... and still no session cookie to the backend');

# the same header, the same connection, another app sharing the key
$r = call('app-b.test', '/app/one', $A->{cookie});
is(signin($r), 'sign-in', 'the same header on the same connection to app-b (another client id): to sign-in');
is(oid_of(call($host, '/app/three', $A->{cookie})), $A->{oid}, '... and the first app still takes it');

# forgeries that keep most of the accepted header
# A's header with its session cookie's value replaced
my $with = sub { my $v = shift; return $A->{cookie} =~ s/\bentra_session=\Q$session_a\E/entra_session=$v/r };
my @forged = (
    ['the session cookie with its last character changed', $with->(flip_b64($session_a, length($session_a) - 1))],
    ['the session cookie with a character in its middle changed', $with->(flip_b64($session_a, int(length($session_a) / 2)))],
    ['the session cookie cut short by one character', $with->(substr($session_a, 0, -1))],
    ['the session cookie with one character more', $with->($session_a . 'A')],
    ['the session cookie emptied', $with->('')],
);
for my $f (@forged) {
    $r = call($host, '/app/forged', $f->[1]);
    is(signin($r), 'sign-in', "$f->[0], on the same connection: to sign-in");
}
is(oid_of(call($host, '/app/four', $A->{cookie})), $A->{oid}, '... the accepted header still: the first user');
$r = call($host, '/app/more', "$A->{cookie}; theme=dark; entra_session_state_x=1");
is(oid_of($r), $A->{oid}, '... with other cookies added (another header, opened afresh): the first user');
my $backend_cookie = backend_header($r, 'Cookie') // '';
like($backend_cookie, qr/\btheme=dark\b/, "... the app's own cookie goes to the backend");
unlike($backend_cookie, qr/entra_/, "... the module's cookies do not ($backend_cookie)");
$r = call($host, '/app/more2', "$A->{cookie}; theme=dark; entra_session_state_x=1");
is(oid_of($r), $A->{oid}, '... that header again (kept): the first user');
is(backend_header($r, 'Cookie') // '', $backend_cookie, '... and the backend gets the same Cookie header');

# pipelined in one write: A's header, a forgery, A's, no cookie, A's
$conn->send_text(join '', req($host, '/app/p1', $A->{cookie}), req($host, '/app/p2', $forged[0][1]),
    req($host, '/app/p3', $A->{cookie}), req($host, '/app/p4'), req($host, '/app/p5', $A->{cookie}));
my @got = map { my $x = read_one(); oid_of($x) // signin($x) } 1 .. 5;
is("@got", join(' ', $A->{oid}, 'sign-in', $A->{oid}, 'sign-in', $A->{oid}),
   'pipelined: A, a forgery, A, none, A');

# the session cookie twice in the header (a stale one on another path
# comes first): the first that opens wins
my ($b_session) = $B->{cookie} =~ /\bentra_session=([^;]+)/;
my $forged_a = flip_b64($session_a, length($session_a) - 1);
$r = call($host, '/app/twice', "entra_session=$session_a; entra_session=$forged_a");
is(oid_of($r), $A->{oid}, "A's session cookie, then a forged one: A");
$r = call($host, '/app/twice', "entra_session=$forged_a; entra_session=$b_session");
is(oid_of($r), $B->{oid}, "a forged session cookie, then B's: B (the next one is tried)");

# a front proxy's connection: two users' requests, one after the other
my @mixed = map { (oid_of(call($host, "/app/u$_", $A->{cookie})), oid_of(call($host, "/app/v$_", $B->{cookie}))) } 1 .. 3;
is_deeply(\@mixed, [($A->{oid}, $B->{oid}) x 3], 'two users alternating on one connection: each their own claims');

# the session ended by front-channel logout while the connection lives
is(oid_of(call($host, '/app/c1', $C->{cookie})), $C->{oid}, 'the third session on the connection');
is(oid_of(call($host, '/app/c2', $C->{cookie})), $C->{oid}, '... again, kept');
is(front_channel_logout($S->base, $C->{sid})->code, 200, '... Entra ends it (front-channel logout): 200');
is(signin(call($host, '/app/c3', $C->{cookie})), 'sign-in',
   '... its header on the same connection: to sign-in');
is(signin(call($host, '/app/c4', $C->{cookie})), 'sign-in', '... and again');

# a session that ends while the connection lives (EntraSessionMaxAge 3600)
is(oid_of(call($host, '/app/e1', $A->{cookie})), $A->{oid}, 'the first user, before the session ends');
if (test_clock()) {
    advance_clock(3601);
    is(signin(call($host, '/app/e2', $A->{cookie})), 'sign-in',
       '... an hour later (EntraSessionMaxAge), the same header on the same connection: to sign-in');
}

my ($calls, $port) = ($conn->reads, $conn->sockport);
# one connection all along: every request logged with its port
my $on_sock = 0;
for my $try (1 .. 50) {
    open my $fh, '<', $S->access_log or die "access_log: $!";
    $on_sock = grep { (split ' ')[1] eq $port } <$fh>;
    close $fh;
    last if $on_sock >= $calls;
    select undef, undef, undef, 0.1;
}
is($on_sock, $calls, "every request ($calls) logged, all on the one connection");

# the requests that brought the connection's last signed-in header again
# found it kept (the module's trace): /app/two, /app/more2, /app/p5 (a
# request without cookies keeps it) and /app/c2; not /app/p1, after
# /app/more's other header, nor /app/p3, after a forgery. A header that signs no
# one in drops what the connection kept (app-b, the forgeries, /app/p2,
# the ended session); another header replaces it (/app/twice, the two
# users alternating).
my $kept = grep { /the one this connection's Cookie header opened before/ } $S->log_since($mark);
is($kept, 4, "the requests with the connection's last signed-in header found it kept ($kept)");

$conn->close;
my @bad = grep { /exit signal|\[auth_entra:(?:emerg|alert|crit)\]|AddressSanitizer/ } $S->log_since($mark);
is(scalar @bad, 0, 'no crashed child, no crit line') or diag(join "\n", @bad);
$S->stop;
done_testing();
