# IPv6 loopback: a server that also listens on [::1], reached as
# http://[::1]:port/.  The redirect URI a sign-in sends Entra keeps the
# brackets; the same-origin checks of the return URL (post_logout_redirect_uri)
# compare scheme, bracketed host and port, and send anything else to "/" of
# this origin.  Entra itself does not take [::1] redirect URIs (Microsoft's
# redirect URI restrictions: "The IPv6 loopback ([::1]) is not currently
# supported"), so the sign-in is not carried past Entra here.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::IP;
use URI::Escape qw(uri_escape);
use HTTP::Response;
use EntraTest;
use EntraSessions;
use EntraStores;
use EntraShapes;

my $CB = '/.auth/login/aad/callback';
if (my $why = have_ipv6()) { plan skip_all => $why }

mock_reset();
my $S = eval { start_apache(name => 'ipv6', ipv6 => 1) };
ok($S, 'a server listening on 127.0.0.1 and [::1] starts') or diag($@);
plan skip_all => 'no server' unless $S;
my $port = $S->port;
my $o6 = $S->base6;
is($o6, "http://[::1]:$port", "reached as $o6");

# ------------------------------------------------------------ the sign-in
{
    my $ua = new_ua();
    my $r = $ua->get("$o6/app/v6?x=1", Accept => 'text/html');
    ok(is_login_redirect($r), 'a protected page at [::1]: 302 to Entra') or diag($r->as_string);
    my $q = query_params(abs_location($r) // '');
    is($q->{redirect_uri}, "http://[::1]:$port$CB", '... redirect_uri keeps the brackets and the port');
    my $st = find_set_cookie($r, qr/^entra_session_state_/);
    ok($st, '... a state cookie is set');
    unlike($st // '', qr/;\s*Domain=/i, '... host-only (no Domain)');
    my @jar = cookie_names($ua);
    ok(scalar(grep { /^entra_session_state_/ } @jar), '... and the browser keeps it for [::1]')
        or diag("@jar");
    # the same browser at 127.0.0.1 (another origin) has no state there
    my $v4 = $ua->get("http://127.0.0.1:$port$CB?code=x&state=" . ($q->{state} // ''));
    is($v4->code, 400, 'the callback at 127.0.0.1 (another origin, no state cookie there): 400');
}

# Request targets in absolute form naming another host or port: the
# redirect URI follows the request (UseCanonicalName Off), never mixes hosts
sub raw6 {
    my ($target, $host) = @_;
    my $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port, Timeout => 10)
        or die "connect [::1]:$port: $@";
    print $s "GET $target HTTP/1.1\r\nHost: $host\r\nAccept: text/html\r\nConnection: close\r\n\r\n";
    my $raw = do { local $/; <$s> };
    return HTTP::Response->parse($raw // '');
}
{
    my $r = raw6('/app/raw', "[::1]:$port");
    is(query_params(scalar $r->header('Location') // '')->{redirect_uri}, "http://[::1]:$port$CB",
       'raw request, Host: [::1]:port: the same redirect URI');
    $r = raw6('/app/raw', '[::1]');
    my $ru = query_params(scalar $r->header('Location') // '')->{redirect_uri} // '';
    is($ru, "http://[::1]$CB", 'Host: [::1] without a port: the redirect URI names none (port 80 as the browser reads it)');
    $r = raw6('/app/raw', "[::1:$port");
    is($r->code, 400, 'Host: [::1 without the closing bracket: 400');
    $r = raw6('/app/raw', "::1:$port");
    is($r->code, 400, 'Host: ::1:port without brackets: 400');
}

# ----------------------------------------------------- logout's return URL
my @cases = (
    ['/bye?x=1'                              => "$o6/bye?x=1", 'same-origin path'],
    ["$o6/bye"                               => "$o6/bye",     'same-origin absolute URL'],
    ["http://[::1]:$port"                    => "$o6/",        'the origin itself (no path): to /'],
    ["HTTP://[::1]:$port/up"                 => "$o6/up",      'scheme in capitals (the same origin)'],
    ["http://[::1]:" . ($port + 1) . '/'     => "$o6/",        'same address, other port'],
    ['http://[::1]/'                         => "$o6/",        'same address, no port'],
    ["https://[::1]:$port/"                  => "$o6/",        'other scheme'],
    ["http://127.0.0.1:$port/"               => "$o6/",        'the IPv4 loopback (another origin)'],
    ["http://localhost:$port/"               => "$o6/",        'localhost (another origin)'],
    ["http://[::2]:$port/"                   => "$o6/",        'another IPv6 address'],
    ["http://[0:0:0:0:0:0:0:1]:$port/x"      => "$o6/",        '::1 spelt out (not as the browser sent it)'],
    ["http://[::1%25lo]:$port/"              => "$o6/",        'a zone id'],
    ["http://[::1]:$port\@evil.example/"     => "$o6/",        'userinfo trick'],
    ["http://[::1]:$port.evil.example/"      => "$o6/",        'look-alike host'],
    ["http://[::1]:${port}evil/"             => "$o6/",        'port run on into a name'],
    ["http://[::1]evil.example:$port/"       => "$o6/",        'text after the bracket'],
    ["http://[::1:$port/"                    => "$o6/",        'no closing bracket'],
    ["//[::1]:$port/x"                       => "$o6/",        'scheme-relative'],
    ["/\\[::1]:$port/x"                      => "$o6/",        'slash backslash'],
    ['http://[::ffff:127.0.0.1]:' . "$port/" => "$o6/",        'IPv4-mapped address'],
);
for my $c (@cases) {
    my ($target, $want, $name) = @$c;
    my $r = new_ua()->get("$o6/.auth/logout?post_logout_redirect_uri=" . uri_escape($target), SAME_SITE);
    is($r->code, 302, "logout at [::1], $name: 302");
    is(abs_location($r) // '', $want, "logout at [::1], $name: to $want") or diag(location($r));
    unlike(location($r) // '', qr/evil|::2|127\.0\.0\.1|localhost|%25|ffff/, "logout at [::1], $name: names nothing else");
}

$S->stop;
mock_reset();
done_testing();
