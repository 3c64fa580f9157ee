# The session a kept-alive connection keeps (src/connkept.h) on the ways a
# request goes through Apache, on mpm_event and mpm_prefork: a vhost of the
# same app (same keys, same cookie) whose tenant rules refuse the session,
# reached by the Host header on the same connection; an ErrorDocument
# (internal redirect) to the backend; a per-directory RewriteRule [PT];
# DirectoryIndex (a subrequest and a fast redirect); EntraUnauthAction
# pass; an inactivity timeout slid by a new cookie, then the stale header
# again. The backend never gets the module's cookies.
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
my $MOD = '/usr/lib/apache2/modules';
my $vhosts = <<"EOC";
LoadModule rewrite_module $MOD/mod_rewrite.so
LoadModule alias_module $MOD/mod_alias.so
LoadModule dir_module $MOD/mod_dir.so
EntraSessionMaxAge 7200
EntraSessionInactivityTimeout 600
ErrorDocument 401 /app/errdoc
ErrorDocument 403 /app/errdoc
<VirtualHost *>
    ServerName localhost
</VirtualHost>
<VirtualHost *>
    ServerName restrict.test
    EntraAllowedTenants 11111111-2222-4333-8444-555555555555
</VirtualHost>
<Location /deny>
    AuthType Entra
    Require user nobody\@nowhere.test
</Location>
<Location /rw>
    AuthType Entra
    Require valid-user
    RewriteEngine On
    RewriteRule ^ /app/rewritten [PT]
</Location>
Alias /d/ /usr/share/doc/
<Directory /usr/share/doc>
    Require all granted
</Directory>
<Location /d/>
    AuthType Entra
    Require valid-user
    DirectoryIndex /app/idx
</Location>
EOC
my $loc = <<"EOC";
</Location>
<Location /app/pass>
    AuthType Entra
    EntraUnauthAction pass
    Require all granted
EOC
my ($S, $conn, $mark);

sub connect_ { $conn = EntraConn->new($S->port) }
sub call {
    my ($vhost, $path, @cookies) = @_;
    return $conn->call($vhost, $path, ['Accept', 'text/html'], map { ['Cookie', $_] } @cookies);
}
sub oid_of { my $r = shift; return $r && $r->code == 200 ? backend_header($r, 'X-Entra-Claim-oid') : undef }
sub code { my $r = shift; return $r ? $r->code : 'closed' }
sub kept_count { scalar grep { /the one this connection's Cookie header opened before/ } $S->log_since($mark) }

sub paths_on {
    my ($mpm) = @_;
    $S = eval { start_apache(name => "conn_paths_$mpm", extra => $vhosts, location => $loc, mpm => $mpm) };
    ok($S, "server starts ($mpm)") or diag($@);
    return unless $S;
    $mark = $S->log_mark;
    my $host = 'localhost:' . $S->port;

    my $ua = new_ua();
    my $r0 = sign_in_at($ua, $S->url('/app/a'));
    is($r0->code, 200, "$mpm: signed in") or diag($r0->as_string);
    my $req = HTTP::Request->new(GET => $S->url('/app/a'));
    $ua->cookie_jar->add_cookie_header($req);
    my $A = scalar $req->header('Cookie');
    my $oid = backend_header($r0, 'X-Entra-Claim-oid');
    ok($A && $oid, "$mpm: a Cookie header and an oid");

    connect_();
    is(oid_of(call($host, '/app/one', $A)), $oid, "$mpm: A on the connection");
    is(oid_of(call($host, '/app/two', $A)), $oid, "$mpm: A again (kept)");

    # a vhost of the same app (same keys, same cookie name) whose tenant
    # rules refuse A's tenant
    my $r = call('restrict.test', '/app/x', $A);
    isnt(code($r), 200, "$mpm: the same header to a vhost of the same app that does not admit "
                        . 'the tenant: refused (' . code($r) . ')');
    is(oid_of(call($host, '/app/three', $A)), $oid, "$mpm: ... back on the first vhost: A");
    $r = call('restrict.test', '/app/x2', $A);
    isnt(code($r), 200, "$mpm: ... and refused again right after a kept hit on the first vhost");
    is(oid_of(call($host, '/app/three2', $A)), $oid, "$mpm: ... back: A");

    # ErrorDocument (an internal redirect) after a kept hit
    is(oid_of(call($host, '/app/four', $A)), $oid, "$mpm: A, kept");
    $r = call($host, '/deny', $A);
    ok(($r ? $r->content : '') =~ m{/app/errdoc},
       "$mpm: a denied location: its ErrorDocument from the backend (" . code($r) . ')');
    unlike($r ? $r->content : '', qr/entra_session=/, "$mpm: ... which gets no session cookie");
    is(oid_of(call($host, '/app/five', $A)), $oid, "$mpm: ... A again");

    # a per-directory rewrite (an internal redirect in fixups)
    $r = call($host, '/rw/x', $A);
    is(code($r), 200, "$mpm: a per-directory rewrite to the backend: 200");
    unlike($r ? $r->content : '', qr/entra_session=/, "$mpm: ... no session cookie to the backend");
    is(backend_header($r, 'X-Entra-Claim-oid'), $oid, "$mpm: ... the claims");

    # DirectoryIndex (a subrequest and a fast redirect)
    is(oid_of(call($host, '/app/six', $A)), $oid, "$mpm: A, kept");
    $r = call($host, '/d/', $A);
    is(code($r), 200, "$mpm: DirectoryIndex to the backend: 200") or diag($r && $r->as_string);
    unlike($r ? $r->content : '', qr/entra_session=/, "$mpm: ... no session cookie to the backend");

    # EntraUnauthAction pass
    $r = call($host, '/app/pass/1', $A);
    is(oid_of($r), $oid, "$mpm: a pass location: A");
    unlike($r ? $r->content : '', qr/entra_session=/, "$mpm: ... no session cookie to the backend");
    $r = call($host, '/app/pass/2', $A);
    is(oid_of($r), $oid, "$mpm: ... again (kept): A");
    unlike($r ? $r->content : '', qr/entra_session=/, "$mpm: ... no session cookie to the backend");
    $r = call($host, '/app/pass/3', "$A; theme=dark");
    is(backend_header($r, 'Cookie'), 'theme=dark', "$mpm: ... another header: the backend gets theme=dark only");
    $r = call($host, '/app/pass/4', "$A; theme=dark");
    is(backend_header($r, 'Cookie'), 'theme=dark', "$mpm: ... kept: the same");
    $r = call($host, '/app/pass/5');
    is(code($r), 200, "$mpm: ... without a cookie: 200");
    ok(!backend_header($r, 'X-Entra-Claim-oid'), "$mpm: ... no claims");

    # inactivity (600 s) slid by a touch, then the stale header again
    if (test_clock()) {
        is(oid_of(call($host, '/app/i0', $A)), $oid, "$mpm: A before any time passes");
        advance_clock(300);
        $r = call($host, '/app/i1', $A);
        is(oid_of($r), $oid, "$mpm: 300 s later: A (touched)");
        ok(scalar(grep { /entra_session=/ } $r->header('Set-Cookie')), "$mpm: ... with a new session cookie");
        advance_clock(301);
        $r = call($host, '/app/i2', $A);
        isnt(code($r), 200, "$mpm: the stale header 601 s after its last_seen, on the connection: "
                            . 'refused (' . code($r) . ')');
        connect_();
        $r = call($host, '/app/i3', $A);
        isnt(code($r), 200, "$mpm: ... and on a fresh connection: refused (" . code($r) . ')');
    }
    $conn->close;

    ok(kept_count() > 0, "$mpm: the connection's kept session was used (" . kept_count() . ' times)');
    my @bad = grep { /exit signal|\[auth_entra:(?:emerg|alert|crit)\]|AddressSanitizer/ } $S->log_since($mark);
    is(scalar @bad, 0, "$mpm: no crashed child, no crit line") or diag(join "\n", @bad);
    $S->stop;
}

for my $mpm (qw(event prefork)) {
    local $_;    # Apache::Test writes to $_: not the list's constants
    paths_on($mpm);
}
done_testing();
