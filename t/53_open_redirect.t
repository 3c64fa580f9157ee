# Open redirects (issue 5): whatever the request path a sign-in started from,
# and whatever post_logout_redirect_uri says, the browser is only ever sent
# back to this site: absolute URLs, //host, /\host, %2F%2F, backslashes,
# control characters and other ports all end at a same-origin path or "/".
# The site is protected at "/" (hostile_root), so every odd path is a return URL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use HTTP::Response;
use URI;
use URI::Escape qw(uri_escape);
use EntraTest;

my $vh = 'hostile_root';
my $hp = hostport($vh);
# another app (its own EntraSessionKey) on another port: named, not
# guessed as the next port (which virtual host has it is Apache::Test's
# choice)
my $other_port = hostport('entra_otherkey');
my $origin = base_url($vh);

# Sends one request exactly as written (LWP would tidy the path), keeps the
# state cookie in $ua's jar and returns the response.
sub raw_start {
    my ($ua, $target) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => $hp, Timeout => 10) or die "connect $hp: $!";
    print $sock "GET $target HTTP/1.1\r\nHost: $hp\r\nAccept: text/html\r\n"
              . "User-Agent: EntraTest/1.0\r\nConnection: close\r\n\r\n";
    my $raw = do { local $/; <$sock> };
    my $res = HTTP::Response->parse($raw // '');
    $res->request(HTTP::Request->new(GET => "$origin/.auth/login/aad/callback"));
    $ua->cookie_jar->extract_cookies($res);
    return $res;
}

# The path a Location leads to on the site `origin`, or undef if it leaves it.
sub same_origin_path {
    my ($loc, $origin) = @_;
    return unless defined $loc && $loc !~ /[\x00-\x1f\\]/;
    return $loc if $loc =~ m{^/(?!/)};
    return substr($loc, length $origin) || '/' if index($loc, "$origin/") == 0 || $loc eq $origin;
    return;
}

sub origin_of { my $u = URI->new(shift); return $u->scheme . '://' . $u->host_port }

# ----------------------------------------------- the sign-in's return URL
# Each target's outcome is named: a sign-in that comes back to this site
# ('back'), httpd refusing the request before the module sees it (its status:
# an encoded slash is a 404 with AllowEncodedSlashes Off, a userinfo in the
# request target a 400), or a callback at the other app ('other app').
my @paths = (
    ['//evil.example/x'                   => 'scheme-relative path',                'back'],
    ['///evil.example/x'                  => 'three slashes',                       'back'],
    ['/\\evil.example/x'                 => 'slash backslash',                     'back'],
    ['/\\/evil.example/x'                => 'slash backslash slash',               'back'],
    ['/%2F%2Fevil.example/x'              => 'encoded //',                          404],
    ['/%2fevil.example/x'                 => 'encoded / after the slash',           404],
    ['/%5Cevil.example/x'                 => 'encoded backslash',                   'back'],
    ['/%09/evil.example/x'                => 'encoded tab (a path here: browsers drop only raw tabs)', 'back'],
    ['/app/x?next=//evil.example'         => 'query naming another host (stays a query)', 'back'],
    ["http://$other_port/x"               => 'absolute-form request target, another port', 'other app'],
    ["http://$hp\@evil.example/x"         => 'absolute-form with userinfo',         400],
);
for my $c (@paths) {
    my ($target, $what, $expect) = @$c;
    my $ua = new_ua();
    my $start = raw_start($ua, $target);
    if ($expect =~ /^\d+$/) {
        is($start->code, $expect, "$what: refused by httpd ($expect)");
        unlike($start->header('Location') // '', qr/evil\.example/, "$what: ... never towards the other host");
        next;
    }
    ok(is_login_redirect($start), "$what: a sign-in starts") or next;
    my $authz = authorize_at_mock($ua, $start);
    my $cb = finish_callback($ua, $authz);
    if ($expect eq 'other app') {
        # the absolute-form target sent the callback to another port: the
        # app there is another app, and a state sealed for this one is
        # nothing to it (t/90_isolation.t)
        isnt(origin_of($cb->request->uri), $origin, "$what: the callback goes to the other port");
        is($cb->code, 400, "$what: the callback at another app refuses this app's state");
        ok(!find_set_cookie($cb, qr/^entra_session$/), "$what: ... no session there");
        ok(!defined $cb->header('Location'), "$what: ... and no redirect anywhere");
        next;
    }
    is(origin_of($cb->request->uri), $origin, "$what: the callback is on this site");
    is($cb->code, 302, "$what: signed in, sent back");
    my $site = origin_of($cb->request->uri);
    my $path = same_origin_path(scalar $cb->header('Location'), $site);
    ok(defined $path, "$what: back to the site that signed in ($site): " . ($cb->header('Location') // '-'));
    is(origin_of(abs_location($cb) // 'http://none'), $site, "$what: ... same scheme, host and port");
}

# A request in absolute form names the host it wants, and with
# UseCanonicalName Off httpd (like every peer) builds the redirect URI from
# it: Entra's list of registered redirect URIs is what refuses another host,
# and the return URL never leaves the site either way.
{
    my $ua = new_ua();
    my $start = raw_start($ua, 'http://evil.example/x');
    ok(is_login_redirect($start), 'absolute-form request for another host: a sign-in starts');
    my $authz = authorize_at_mock($ua, $start);
    is($authz->code, 400, '... and Entra refuses the unregistered redirect URI');
    like($authz->decoded_content, qr/AADSTS50011/, '... with AADSTS50011');
    ok(!defined $authz->header('Location'), '... no code goes anywhere');
}

# -------------------------------------------- post_logout_redirect_uri
my @targets = (
    'https://evil.example/',
    "http://$other_port/",
    'HTTP://EVIL.EXAMPLE/',
    '//evil.example/x',
    '///evil.example/x',
    '/\\evil.example/x',
    '\\\\evil.example\\x',
    '/x/..\\..\\evil.example',
    '%2F%2Fevil.example/x',
    '/%2F%2Fevil.example/x',
    '/%2f/evil.example',
    '/%5C%5Cevil.example',
    "/\t/evil.example/x",
    "/\r\nLocation: https://evil.example/",
    "/\x00//evil.example",
    ' //evil.example',
    'http:evil.example',
    'https:/\\evil.example',
    'https:\\\\evil.example',
    "$origin\@evil.example/",
    "$origin.evil.example/",
    'javascript:alert(document.cookie)',
    'data:text/html,<script>alert(1)</script>',
);
for my $target (@targets) {
    (my $what = $target) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;
    my $r = new_ua()->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape($target)), SAME_SITE);
    is($r->code, 302, "logout to $what: 302");
    is(abs_location($r) // '', "$origin/", "logout to $what: sent to / instead");
}
# the same-origin ones still work
for my $ok (['/bye?x=1' => "$origin/bye?x=1"], ["$origin/bye" => "$origin/bye"]) {
    my $r = new_ua()->get(url($vh, '/.auth/logout?post_logout_redirect_uri=' . uri_escape($ok->[0])), SAME_SITE);
    is(abs_location($r) // '', $ok->[1], "logout to $ok->[0]: allowed");
}

done_testing();
