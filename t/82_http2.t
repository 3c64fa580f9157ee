# HTTP/2 (mod_http2, h2 over TLS) as a browser speaks it, with curl: a
# sign-in whose steps at Apache are HTTP/2 requests, signed-in requests
# multiplexed on one connection, the cookie header split into crumbs (HTTP/2
# lets a client send each cookie as a field of its own; httpd joins them),
# a logout.  The module's redirects and cookies are the same as on HTTP/1.1.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use EntraTest;
use EntraSessions;
use EntraStores;
use EntraShapes;

my $CB = '/.auth/login/aad/callback';
plan skip_all => 'curl has no HTTP2' unless `curl -V 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

mock_reset();
my $S = eval { start_apache(name => 'http2', tls => 1, secure => 1, h2 => 1, servers => 2) };
ok($S, 'an https server with mod_http2 (Protocols h2 http/1.1) starts') or diag($@);
plan skip_all => 'no server' unless $S;
my $base = $S->base;
my $jar = $S->dir . '/curl.jar';
unlink $jar;
my @h2 = ('--http2');

sub set_cookies { my $h = shift; return $h->header('Set-Cookie') ? $h->headers->header('Set-Cookie') : () }

my $start = curl("$base/app/h2?z=1", jar => $jar, args => [@h2, '-H', 'Accept: text/html']);
is($start->{version}, '2', 'the protected page is asked for over HTTP/2');
is($start->{code}, 302, '... 302');
my $loc = $start->{headers}->header('Location') // '';
like($loc, qr{^http://127\.0\.0\.1:\d+/[^/]+/oauth2/v2\.0/authorize\?}, '... to Entra');
my $q = query_params($loc);
is($q->{redirect_uri}, "$base$CB", '... redirect_uri: the https callback');
my @sc = $start->{headers}->header('Set-Cookie');
ok(scalar(grep { /^__Secure-entra_session_state_\Q$q->{state}\E=/ } @sc), '... the state cookie set')
    or diag(join "\n", @sc);

my $authz = curl($loc, jar => $jar);
is($authz->{code}, 302, 'Entra (HTTP/1.1, plain http) sends the browser back');
my $cb_url = $authz->{headers}->header('Location') // '';
like($cb_url, qr{^\Q$base$CB\E\?}, '... to the callback');

my $cb = curl($cb_url, jar => $jar, args => \@h2);
is($cb->{version}, '2', 'the callback over HTTP/2');
is($cb->{code}, 302, '... 302') or diag($cb->{raw_headers} . $cb->{body});
is($cb->{headers}->header('Location'), '/app/h2?z=1', '... back to the page')
    or diag($cb->{raw_headers});
my ($sess) = grep { /^__Host-entra_session=/ } $cb->{headers}->header('Set-Cookie');
my (undef, $sval, $sa) = cookie_attrs($sess);
is_deeply([sort keys %$sa], [qw(httponly path samesite secure)], '... __Host-entra_session; Path; Secure; HttpOnly; SameSite')
    or diag($sess);
my $c = curl_jar_cookies($jar);
ok($c->{'__Host-entra_session'} && $c->{'__Host-entra_session'}{secure}
   && $c->{'__Host-entra_session'}{httponly} && $c->{'__Host-entra_session'}{path} eq '/',
   'curl keeps it: Secure, HttpOnly, Path=/');

my $page = curl("$base/app/h2?z=1", jar => $jar, args => \@h2);
is($page->{version}, '2', 'the page over HTTP/2');
is($page->{code}, 200, '... signed in') or diag($page->{raw_headers} . $page->{body});
my $e = eval { JSON::PP->new->decode($page->{body}) } || {};
is(echo_header($e, 'X-Test-Remote-User'), USER->{preferred_username}, '... the backend sees the user');
is(echo_header($e, 'X-Entra-Claim-oid'), USER->{oid}, '... and the claims');
unlike(echo_header($e, 'Cookie') // '', qr/entra_session/, '... and none of the module\'s cookies');

# five requests at once on one connection (multiplexed)
{
    my @urls = map { "$base/app/mux/$_" } 1 .. 5;
    open my $fh, '-|', 'curl', '-sS', '--no-progress-meter', '--cacert', ca_file(), '--noproxy', '*', @h2, '-Z',
        '--parallel-immediate', '-b', $jar, '-w', '%{http_version} %{http_code} %{num_connects}\n',
        map({ ('-o', '/dev/null') } @urls), @urls or die "curl: $!";
    my @l = <$fh>;
    close $fh;
    chomp @l;
    is(scalar(grep { /^2 200 / } @l), 5, 'five signed-in requests at once over HTTP/2: all 200')
        or diag(join "\n", @l);
}

# the cookie header in crumbs
{
    my $r = curl("$base/app/crumbs", args => [@h2, '-H', 'Cookie: a=1', '-H', "Cookie: __Host-entra_session=$sval",
                                              '-H', 'Cookie: b=2', '-H', 'Accept: text/html']);
    is($r->{code}, 200, 'the session in one cookie crumb of three: signed in') or diag($r->{raw_headers});
    my $ec = eval { JSON::PP->new->decode($r->{body}) } || {};
    is(echo_header($ec, 'Cookie'), 'a=1; b=2', '... the backend gets the other crumbs joined, without it');
}

my $out = curl("$base/.auth/logout", jar => $jar, args => [@h2, '-H', 'Sec-Fetch-Site: same-origin']);
is($out->{version}, '2', 'logout over HTTP/2');
is($out->{code}, 302, '... 302');
my ($clear) = grep { /^__Host-entra_session=/ } $out->{headers}->header('Set-Cookie');
like($clear // '', qr/;\s*Max-Age=0\b/i, '... deletes __Host-entra_session');
ok(!curl_jar_cookies($jar)->{'__Host-entra_session'}, '... curl dropped it');
my $after = curl("$base/app/h2", jar => $jar, args => [@h2, '-H', 'Accept: text/html']);
is($after->{code}, 302, 'the page asks for a sign-in again');

$S->stop;
mock_reset();
done_testing();
