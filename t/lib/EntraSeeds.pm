package EntraSeeds;
# Helpers for the app-setup tests (t/31..39): tenants, clouds, v1, form_post,
# client credentials, claims, authorization, groups overage and the five
# products' setups.  Builds on t/lib/EntraTest.pm (browsers, the mock's
# control API, the hand-driven sign-in, the echo backend, the error_log).
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Carp qw(croak);
use Cwd qw(abs_path);
use Digest::SHA qw(sha1 sha256);
use File::Spec;
use HTTP::Request;
use HTTP::Request::Common ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64 encode_base64url decode_base64url);
use Test::Builder ();
use URI;
use URI::Escape qw(uri_unescape);
use EntraTest;

our @EXPORT = qw(
    CONSUMERS_TID OTHER_TID PARTNER_TID GRAPH_APP_ID
    mock_base claim claims_of has_claim remote_user
    https_ua form_post_sign_in parse_form_post authorize_pairs authorize_all
    jwt_decode pem_der cert_thumbprints slurp spew conf_dir credential_file
    configtest configtest_vhost configtest_fails configtest_passes example_file denied_page_ok generated_group
    api_token graph_me
);

use constant {
    CONSUMERS_TID => '9188040d-6c67-4c5b-b112-36a304b66dad',
    # a tenant that EntraAllowedTenants does not list, and one it does
    # (t/conf/setups.conf.in defines the same values)
    OTHER_TID     => '0b9e7c4d-1a2b-4c3d-9e8f-7a6b5c4d3e2f',
    PARTNER_TID   => '5f2e8d1c-3b4a-4e5f-8a9b-0c1d2e3f4a5b',
    GRAPH_APP_ID  => '00000003-0000-0000-c000-000000000000',
};

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub mock_base { mock_url('') }

sub cfg { Apache::Test::config() }

sub conf_dir { abs_path(File::Spec->catdir(cfg()->{vars}{t_dir}, 'conf')) }

# A file under t/conf/credentials/
sub credential_file { File::Spec->catfile(conf_dir(), 'credentials', @_) }

# An example configuration under conf/examples/
sub example_file {
    my $t = abs_path(cfg()->{vars}{t_dir});
    return File::Spec->catfile($t, '..', 'conf', 'examples', shift);
}

sub slurp {
    my $f = shift;
    open my $fh, '<', $f or croak "$f: $!";
    local $/;
    my $c = <$fh>;
    close $fh;
    return $c;
}

sub spew {
    my ($f, $content) = @_;
    open my $fh, '>', $f or croak "$f: $!";
    print $fh $content;
    close $fh or croak "$f: $!";
}

# ------------------------------------------------------ the echo backend --

# { normalised header name => [values] } of a response from the echo backend
sub claims_of {
    my $r = shift;
    return echo_headers_norm(echo($r) || {});
}

# The value of X-Entra-Claim-<name> the backend got (undef when none; several
# values joined with "\0" so that a duplicate shows)
sub claim {
    my ($h, $name) = @_;
    (my $n = lc "x-entra-claim-$name") =~ tr/_/-/;
    my $v = $h->{$n};
    return $v ? join("\x00", @$v) : undef;
}

sub has_claim {
    my ($h, $name) = @_;
    (my $n = lc "x-entra-claim-$name") =~ tr/_/-/;
    return exists $h->{$n};
}

# REMOTE_USER as the vhosts pass it (RequestHeader X-Test-Remote-User)
sub remote_user {
    my $h = shift;
    my $v = $h->{'x-test-remote-user'};
    return $v ? join("\x00", @$v) : undef;
}

# --------------------------------------------------------- https browser --

# A browser as it behaves on https: it keeps and sends back cookies marked
# Secure.  The suite speaks plain http to Apache, so after every answer the
# jar's Secure cookies are stored again without the flag (the Set-Cookie
# headers themselves are left untouched for the tests to read).
sub https_ua {
    my $ua = new_ua(@_);
    $ua->add_handler(response_done => sub {
        my ($res, $u) = @_;
        my $jar = $u->cookie_jar or return;
        my @secure;
        $jar->scan(sub {
            my ($ver, $key, $val, $path, $domain, $port, $path_spec, $secure, $expires,
                $discard, $rest) = @_;
            push @secure, [@_] if $secure;
        });
        for my $c (@secure) {
            my ($ver, $key, $val, $path, $domain, $port, $path_spec, undef, $expires,
                $discard, $rest) = @$c;
            my $max_age = defined $expires ? $expires - time : undef;
            next if defined $max_age && $max_age <= 0;
            $jar->clear($domain, $path, $key);
            $jar->set_cookie($ver, $key, $val, $path, $domain, $port, $path_spec, 0,
                             $max_age, $discard, $rest || {});
        }
    });
    return $ua;
}

# ----------------------------------------------------------- form_post ----

# The auto-submitting form Entra answers with for response_mode=form_post:
# (action, [name => value, ...]) or () when the page has none.
sub parse_form_post {
    my $html = shift // '';
    my ($action) = $html =~ /<form\b[^>]*\baction="([^"]*)"/i or return;
    my ($method) = $html =~ /<form\b[^>]*\bmethod="([^"]*)"/i;
    my @fields;
    while ($html =~ /<input\b([^>]*)>/gi) {
        my $attrs = $1;
        my ($type)  = $attrs =~ /\btype="([^"]*)"/i;
        next unless ($type // '') =~ /^hidden$/i;
        my ($name)  = $attrs =~ /\bname="([^"]*)"/i;
        my ($value) = $attrs =~ /\bvalue="([^"]*)"/i;
        push @fields, _html_unescape($name), _html_unescape($value // '');
    }
    return (_html_unescape($action), \@fields, uc($method // 'GET'));
}

sub _html_unescape {
    my $s = shift;
    return undef unless defined $s;
    $s =~ s/&quot;/"/g;
    $s =~ s/&#x27;/'/g;
    $s =~ s/&#39;/'/g;
    $s =~ s/&lt;/</g;
    $s =~ s/&gt;/>/g;
    $s =~ s/&amp;/&/g;
    return $s;
}

# The whole sign-in with response_mode=form_post, as a browser does it:
# protected URL -> 302 to Entra -> Entra's auto-submit page -> cross-site
# POST of code+state to the callback -> 302 back -> the original URL.
# Scalar: the final response; list: (final, \%steps) with start, authorize
# (the form page), form_action, form_fields, form_method, callback, final,
# authorize_url, authorize_params.
sub form_post_sign_in {
    local $_;
    my ($ua, $vhost, $path, %o) = @_;
    my %s;
    my $done = sub { $s{final} = shift; return wantarray ? ($s{final}, \%s) : $s{final} };
    $s{start} = start_login($ua, $vhost, $path);
    return $done->($s{start}) unless $s{start}->code == 302 && location($s{start});
    $s{authorize_url}    = abs_location($s{start});
    $s{authorize_params} = query_params($s{authorize_url});
    $s{authorize}        = $ua->get($s{authorize_url});
    return $done->($s{authorize}) unless $s{authorize}->code == 200;
    my ($action, $fields, $method) = parse_form_post($s{authorize}->decoded_content);
    return $done->($s{authorize}) unless $action;
    @s{qw(form_action form_fields form_method)} = ($action, $fields, $method);
    my %f = @$fields;
    record_secret('code', $f{code}) if $f{code};
    my $req = HTTP::Request::Common::POST($action, $fields);
    # what a browser sends with a cross-site form POST from Entra's page
    my $origin = mock_base();
    $req->header(Origin => $origin, Referer => "$origin/", 'Sec-Fetch-Site' => 'cross-site',
                 'Sec-Fetch-Mode' => 'navigate', 'Sec-Fetch-Dest' => 'document');
    $s{callback} = $ua->request($req);
    for my $h (set_cookie_headers($s{callback})) {
        my ($n, $v) = $h =~ /^\s*([^=;\s]+)\s*=\s*"?([^";]*)/ or next;
        record_secret("cookie:$n", $v) if length $v;
    }
    return $done->($s{callback}) unless $s{callback}->code == 302 && location($s{callback});
    return $done->(follow($ua, $s{callback}));
}

# The authorize URL's query as a list of [name, value] pairs (repeats kept)
sub authorize_pairs {
    my $u = URI->new(shift);
    my @p;
    for my $pair (split /&/, $u->query // '') {
        my ($k, $v) = split /=/, $pair, 2;
        $v //= '';
        s/\+/ /g for $k, $v;
        push @p, [uri_unescape($k), uri_unescape($v)];
    }
    return @p;
}

# Every value of one authorize parameter
sub authorize_all {
    my ($url, $name) = @_;
    return map { $_->[1] } grep { $_->[0] eq $name } authorize_pairs($url);
}

# ------------------------------------------------------------ crypto ------

# (header, claims) of a compact JWS, decoded (no verification)
sub jwt_decode {
    my $jwt = shift // return;
    my ($h, $c) = split /\./, $jwt;
    return unless defined $c;
    my $hd = eval { $JSON->decode(decode_base64url($h)) };
    my $cl = eval { $JSON->decode(decode_base64url($c)) };
    return ($hd, $cl);
}

# DER bytes of the first PEM certificate in a string
sub pem_der {
    my $pem = shift;
    my ($b64) = $pem =~ /-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----/s
        or croak 'no certificate in PEM';
    return decode_base64($b64);
}

# (x5t, x5t#S256) of a PEM certificate: base64url SHA-1 and SHA-256 of the DER
sub cert_thumbprints {
    my $der = pem_der(shift);
    return (encode_base64url(sha1($der)), encode_base64url(sha256($der)));
}

# ------------------------------------------------------------ configtest --

my $ct_n = 0;

# Runs `httpd -t` on a small complete configuration: a base (the modules
# the module and the examples need, a private ServerRoot in t/) followed by
# $body.  Returns (exit code, output).
sub configtest {
    my ($body, %o) = @_;
    my $vars  = cfg()->{vars};
    my $httpd = $vars->{httpd} or croak 'no httpd binary known to Apache::Test';
    my $t_dir = abs_path($vars->{t_dir});
    my $logs  = abs_path($vars->{t_logs});
    my $so    = abs_path(File::Spec->catfile($t_dir, '..', '.libs', 'mod_auth_entra.so'));
    my $mods  = cfg()->apxs('LIBEXECDIR') || '/usr/lib/apache2/modules';
    my @load  = (
        [mpm_event_module    => 'mod_mpm_event.so', 'IfModule'],
        [authn_core_module   => 'mod_authn_core.so'],
        [authz_core_module   => 'mod_authz_core.so'],
        [authz_user_module   => 'mod_authz_user.so'],
        [headers_module      => 'mod_headers.so'],
        [proxy_module        => 'mod_proxy.so'],
        [proxy_http_module   => 'mod_proxy_http.so'],
        [socache_shmcb_module => 'mod_socache_shmcb.so'],
    );
    my $n = ++$ct_n;
    my $conf = File::Spec->catfile($logs, "configtest_$$\_$n.conf");
    my $text = qq(ServerRoot "$t_dir"\n);
    for my $m (@load) {
        my ($name, $file) = @$m;
        my $line = "LoadModule $name $mods/$file";
        $text .= $m->[2] ? "<IfModule !$name>\n    $line\n</IfModule>\n" : "$line\n";
    }
    $text .= qq(LoadModule auth_entra_module "$so"\n);
    $text .= "ServerName localhost\nListen 127.0.0.1:9\n";
    $text .= qq(PidFile "$logs/configtest.pid"\n);
    $text .= qq(ErrorLog "$logs/configtest_error_log"\n);
    $text .= qq(DefaultRuntimeDir "$logs"\n);
    $text .= $body;
    spew($conf, $text);
    my $out = `'$httpd' -t -f '$conf' 2>&1`;
    my $rc = $? >> 8;
    unlink $conf unless $o{keep};
    return ($rc, $out);
}

# A vhost for configtest(): the required directives (tenant, client id,
# session key; a client secret unless no_secret), then @$lines, and a
# protected location (extra lines inside it: %o{location}).
sub configtest_vhost {
    my ($lines, %o) = @_;
    return "<VirtualHost 127.0.0.1:9>\n"
         . ($o{no_tenant} ? '' : "    EntraTenant     " . TENANT . "\n")
         . "    EntraClientID   " . CLIENT_ID . "\n"
         . ($o{no_secret} ? '' : "    EntraClientSecret some-client-secret\n")
         . "    EntraSessionKey 0123456789abcdef0123456789abcdef\n"
         . join('', map { "    $_\n" } @$lines)
         . "    <Location /app>\n        AuthType Entra\n"
         . join('', map { "        $_\n" } @{ $o{location} || ['Require valid-user'] })
         . "    </Location>\n</VirtualHost>\n";
}

# httpd -t on configtest_vhost(...) must fail naming $expect; returns nothing
sub configtest_fails {
    my ($what, $lines, $expect, %o) = @_;
    my $tb = Test::Builder->new;
    my ($rc, $out) = configtest(configtest_vhost($lines, %o));
    $tb->isnt_num($rc, 0, "configtest fails: $what") or $tb->diag($out);
    $tb->unlike($out, qr/Syntax OK/, "... no Syntax OK ($what)");
    $tb->like($out, $expect, "... the message names it ($what)") or $tb->diag($out);
    $tb->unlike($out, qr/Segmentation|core dumped|Aborted/i, "... no crash ($what)");
}

# httpd -t on configtest_vhost(...) must pass
sub configtest_passes {
    my ($what, $lines, %o) = @_;
    my $tb = Test::Builder->new;
    my ($rc, $out) = configtest(configtest_vhost($lines, %o));
    $tb->is_num($rc, 0, "configtest passes: $what") or $tb->diag($out);
}

# -------------------------------------------------------- authorization ---

# A signed-in user denied by a Require: 403 with a page naming what was
# missing, no redirect, no new sign-in (no state cookie).  Returns the
# number of failed checks (0 = all good).
sub denied_page_ok {
    my ($r, $needle, $what) = @_;
    my $fails = 0;
    my $tb = Test::Builder->new;
    $tb->is_eq($r->code, 403, "$what: 403") or $fails++;
    $tb->ok(!defined location($r), "$what: no redirect (no login loop)") or $fails++;
    $tb->ok(!find_set_cookie($r, qr/(?:^|_)state_/), "$what: no new sign-in started (no state cookie)")
        or $fails++;
    my $body = $r->decoded_content // '';
    if (defined $needle) {
        my @n = ref $needle eq 'ARRAY' ? @$needle : ($needle);
        for my $x (@n) {
            my $re = ref $x ? $x : qr/\Q$x\E/;
            $tb->like($body, $re, "$what: the page names $x") or $fails++;
        }
    }
    return $fails;
}

# The mock's generated group number $i (groups_count)
sub generated_group { sprintf '2f6a4c1e-0000-4000-8001-%012d', shift }

# ------------------------------------------------------------- tokens -----

# An access token for this app's own API, got from the mock's v1 endpoints
# the way a client app would (code grant with resource=<App ID URI>).
# Returns the token response (hash) or croaks.
sub api_token {
    my (%o) = @_;
    my $tenant   = $o{tenant} // TENANT;
    my $resource = $o{resource} // ('api://' . CLIENT_ID);
    my $redirect = 'http://127.0.0.1/client-app/callback';
    my $ua = new_ua(no_cookies => 1);
    my $auth = URI->new(mock_url("/$tenant/oauth2/authorize"));
    $auth->query_form(client_id => CLIENT_ID, response_type => 'code', redirect_uri => $redirect,
                      resource => $resource, state => 'api-token-state');
    my $r = $ua->get($auth);
    croak 'api_token: authorize answered ' . $r->status_line unless $r->code == 302;
    my $code = query_params(location($r))->{code} or croak 'api_token: no code';
    my $t = $ua->post(mock_url("/$tenant/oauth2/token"), {
        grant_type => 'authorization_code', code => $code, redirect_uri => $redirect,
        client_id => CLIENT_ID, client_secret => CLIENT_SECRET, resource => $resource });
    croak 'api_token: token answered ' . $t->status_line . ' ' . $t->decoded_content
        unless $t->code == 200;
    my $ans = $JSON->decode($t->content);
    record_secret('access_token', $ans->{access_token});
    record_secret('refresh_token', $ans->{refresh_token});
    return $ans;
}

# GET /v1.0/me at the mock's Graph with an access token: (status, JSON)
sub graph_me {
    my $token = shift;
    my $r = new_ua(no_cookies => 1)->get(mock_url('/v1.0/me'), Authorization => "Bearer $token");
    return ($r->code, eval { $JSON->decode($r->content) });
}

1;
