package EntraTest;
# Helpers for the mod_auth_entra Apache::Test suite: browsers (user agents
# with a cookie jar that never follow redirects), the mock Entra's control
# API, a hand-driven sign-in, the echo backend's answer, and error_log reading.
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Apache::TestConfig ();
use Carp qw(croak);
use File::Spec;
use HTTP::Cookies;
use HTTP::Request;
use JSON::PP ();
use Test::More ();
use LWP::UserAgent;
use Time::HiRes qw(sleep);
use URI;
use URI::Escape qw(uri_unescape);

our @EXPORT = qw(
    TENANT CLIENT_ID CLIENT_SECRET KEY_MAIN KEY_OTHER KEY_NEW KEY_FILE USER
    new_ua base_url url hostport mock_url
    mock_reset mock_config mock_stats mock_info rotate_keys mock_get mock_post
    app_redirect_uris register_app
    start_login authorize_at_mock finish_callback follow sign_in
    location abs_location query_params cookie_value cookie_names set_cookie
    set_cookie_headers find_set_cookie echo echo_header echo_headers_norm
    log_mark log_since entra_lines entra_problems wait_log
    record_secret is_login_redirect SAME_SITE
    test_clock advance_clock clock_now past_refresh_breaker
    sign_in_url random_guid flip_b64 lines_with one_line log_file_since
);

use constant {
    TENANT        => '4d3c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d',
    CLIENT_ID     => '6731de76-14a6-49ae-97bc-6eba6914391e',
    CLIENT_SECRET => 'mock+Secret&x=1%41~value.123',
    KEY_MAIN      => 'main-session-key-0123456789abcdefghijklmnop',
    KEY_OTHER     => 'other-session-key-ZYXWVUTSRQPONMLKJIHGFEDCBA',
    KEY_NEW       => 'rollover-session-key-new-0123456789ABCDEFGH',
    KEY_FILE      => 'file-session-key-abcdefghijklmnopqrstuvwxyz0123',
};

# What a browser sends with a request a page of the same site started (a
# link to /.auth/logout): with no such header at all, logout asks first.
use constant CLIENT_APP_REDIRECTS => ('http://127.0.0.1/client-app/callback', 'http://localhost/cb');

use constant SAME_SITE => ('Sec-Fetch-Site' => 'same-origin');

# The default test user (spec.md)
use constant USER => {
    oid                => '00000000-0000-0000-66f3-3332eca7ea81',
    sub                => 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ',
    name               => 'Adele Vance',
    preferred_username => 'adele@contoso.test',
    email              => 'adele.vance@contoso.test',
    roles              => ['Task.Read', 'Admin'],
    groups             => ['2f6a4c1e-0000-4000-8000-00000000a001',
                           '2f6a4c1e-0000-4000-8000-00000000a002'],
};

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;   # bytes in, bytes out

# ---------------------------------------------------------------- config ---

my $config;
sub config { $config ||= Apache::Test::config() }

sub t_dir  { config()->{vars}{t_dir} }
sub t_logs { config()->{vars}{t_logs} }

sub hostport {
    my $vhost = shift || 'entra_main';
    my $v = config()->{vhosts}{$vhost}
        or croak "no virtual host '$vhost' in t/conf/extra.conf.in";
    return $v->{hostport};
}

sub base_url { 'http://' . hostport(shift) }

sub url {
    my ($vhost, $path) = @_;
    return base_url($vhost) . ($path // '/');
}

sub mock_port {
    return $ENV{ENTRA_MOCK_PORT} || croak 'ENTRA_MOCK_PORT is not set (run through t/TEST)';
}

sub mock_url { 'http://127.0.0.1:' . mock_port() . (shift // '') }

# ------------------------------------------------------------- browsers ---

# A "browser": own cookie jar, never follows redirects.
sub new_ua {
    local $_;
    my %args = @_;
    my $ua = LWP::UserAgent->new(
        agent                 => 'EntraTest/1.0',
        timeout               => $args{timeout} || 30,
        max_redirect          => 0,
        requests_redirectable => [],
        keep_alive            => 0,
        env_proxy             => 0,
    );
    $ua->cookie_jar($args{no_cookies} ? undef : HTTP::Cookies->new);
    $ua->add_handler(response_done => \&_apply_max_age) unless $args{no_cookies};
    $ua->no_proxy('localhost', '127.0.0.1');
    return $ua;
}

# HTTP::Cookies ignores Max-Age on Set-Cookie headers; browsers do not.
# Apply it as a browser would: Max-Age <= 0 deletes, > 0 sets the lifetime.
sub _apply_max_age {
    local $_;
    my ($res, $ua) = @_;
    my $jar = $ua->cookie_jar or return;
    my $req = $res->request or return;
    my $uri = $req->uri;
    return unless $uri->can('host');
    my $host = lc $uri->host;
    $host .= '.local' unless $host =~ /\./;
    for my $h ($res->headers->header('Set-Cookie')) {
        my ($name, $val) = $h =~ /^\s*([^=;\s]+)\s*=\s*([^;]*)/ or next;
        my ($ma) = $h =~ /;\s*max-age\s*=\s*(-?\d+)/i or next;
        my ($path) = $h =~ /;\s*path\s*=\s*([^;]*?)\s*(?:;|$)/i;
        unless (defined $path && length $path) {
            ($path = $uri->path) =~ s{/[^/]*$}{};
            $path = '/' unless length $path;
        }
        if ($ma <= 0) {
            $jar->clear($host, $path, $name);
        }
        else {
            # SameSite kept, as the jar keeps it, for tests that play a
            # browser's cross-site requests (t/97_stepup_form_post.t)
            my ($same_site) = $h =~ /;\s*samesite\s*=\s*(\w+)/i;
            $jar->set_cookie(0, $name, $val, $path, $host, undef, 1,
                             scalar($h =~ /;\s*secure\b/i), $ma, 0,
                             $same_site ? { SameSite => $same_site } : {});
        }
    }
}

my $control_ua;
sub control_ua { $control_ua ||= new_ua(no_cookies => 1) }

# ------------------------------------------------------------- the mock ---

sub _json_body {
    my ($res, $what) = @_;
    croak "$what: " . $res->status_line . "\n" . $res->decoded_content
        unless $res->is_success;
    my $c = $res->content;
    return length $c ? $JSON->decode($c) : {};
}

sub mock_get {
    local $_;
    my $path = shift;
    return control_ua()->get(mock_url($path));
}

sub mock_post {
    local $_;
    my ($path, $data) = @_;
    return control_ua()->post(mock_url($path),
        'Content-Type' => 'application/json',
        Content        => $JSON->encode($data // {}));
}

sub mock_reset  { _json_body(mock_post('/_mock/reset'), 'mock reset') }
sub mock_config { _json_body(mock_post('/_mock/config', shift), 'mock config') }
sub mock_stats  { _json_body(mock_get('/_mock/stats'), 'mock stats') }
sub mock_info   { _json_body(mock_get('/_mock/info'), 'mock info') }

# The app registration's redirect URIs, as an admin would enter them: for
# every virtual host (and the main server) of the generated configuration,
# http://<servername>:<port> with its EntraRedirectURI (a path, or an
# absolute URL as it is) or the default one, and the site's root (where
# logout lands: Entra goes back only to a registered URI).
sub app_redirect_uris {
    my $cfg = shift || config();
    my $host = $cfg->{vars}{servername} || 'localhost';
    my $dflt = '/.auth/login/aad/callback';
    my (@uris, %seen);
    my $add = sub {
        my ($port, $redirect, $name) = @_;
        my $site = 'http://' . ($name // $host) . ":$port";
        for my $u (($redirect // $dflt) =~ m{^https?://} ? $redirect : $site . ($redirect // $dflt),
                   "$site/") {
            push @uris, $u unless $seen{$u}++;
        }
    };
    my $server_level;
    for my $file (sort glob File::Spec->catfile($cfg->{vars}{t_conf}, '*.conf')) {
        open my $fh, '<', $file or next;
        my ($port, $redirect, $name);
        while (my $line = <$fh>) {
            # a name-based virtual host (<VirtualHost 127.0.0.1:port>) is
            # reached by that name; _default_ and * by the server's
            if ($line =~ /^\s*<VirtualHost\s+(?:(\S+):)?(\d+)\s*>/i) {
                ($port, $redirect, $name) = ($2, undef, $1);
                undef $name if defined $name && $name =~ /^(?:_default_|\*)$/;
            }
            elsif ($line =~ /^\s*ServerName\s+"?([^"\s:]+)/i && defined $port) {
                $name = $1;
            }
            elsif ($line =~ /^\s*EntraRedirectURI\s+"?([^"\s]+)/i) {
                if (defined $port) { $redirect = $1 } else { $server_level = $1 }
            }
            elsif ($line =~ m{^\s*</VirtualHost>}i && defined $port) {
                $add->($port, $redirect // $server_level, $name);
                undef $port;
            }
        }
    }
    $add->($cfg->{vars}{port}, $server_level) if $cfg->{vars}{port};
    # the client applications some tests play (EntraSeeds::api_token,
    # t/46_bearer.t) to get an access token for the API: their callbacks
    push @uris, grep { !$seen{$_}++ } CLIENT_APP_REDIRECTS;
    return @uris;
}

# Registers them with the mock (t/TEST does, once the configuration is made)
sub register_app {
    my @uris = app_redirect_uris(@_);
    return _json_body(mock_post('/_mock/app', { redirect_uris => \@uris }), 'mock app registration');
}

sub rotate_keys {
    my %args = @_;
    return _json_body(mock_post('/_mock/rotate_keys',
                                { keep_old => $args{keep_old} ? JSON::PP::true : JSON::PP::false,
                                  restore  => $args{restore}  ? JSON::PP::true : JSON::PP::false }),
                      'mock rotate_keys');
}

# ---------------------------------------------------------------- URLs ----

sub location { my $r = shift; return scalar $r->header('Location') }

# Location resolved against the request's URL
sub abs_location {
    my $r = shift;
    my $loc = location($r);
    return undef unless defined $loc;
    return URI->new_abs($loc, $r->request->uri)->as_string;
}

# query (or fragment) parameters as a hash (last value wins) of unescaped values
sub query_params {
    my $u = URI->new(shift);
    my %q;
    my $q = $u->query;
    return \%q unless defined $q;
    for my $pair (split /[&;]/, $q) {
        next unless length $pair;
        my ($k, $v) = split /=/, $pair, 2;
        $v //= '';
        s/\+/ /g for $k, $v;
        $q{uri_unescape($k)} = uri_unescape($v);
    }
    return \%q;
}

# Is this a redirect to the mock's v2 authorize endpoint?
sub is_login_redirect {
    my $r = shift;
    return 0 unless $r->code == 302;
    my $loc = location($r) // return 0;
    my $m = quotemeta mock_port();
    return $loc =~ m{^http://(?:127\.0\.0\.1|localhost):$m/[^/]+/oauth2/v2\.0/authorize\?} ? 1 : 0;
}

# ------------------------------------------------------------- cookies ----

sub set_cookie_headers { my $r = shift; return $r->header('Set-Cookie') ? ($r->headers->header('Set-Cookie')) : () }

# The raw Set-Cookie header for a cookie name (exact) or a name regex
sub find_set_cookie {
    my ($r, $name) = @_;
    my $re = ref $name ? $name : qr/^\Q$name\E$/;
    for my $h (set_cookie_headers($r)) {
        my ($n) = $h =~ /^\s*([^=;\s]+)\s*=/ or next;
        return $h if $n =~ $re;
    }
    return undef;
}

sub _jar_cookies {
    my $ua = shift;
    my @c;
    my $jar = $ua->cookie_jar or return;
    $jar->scan(sub {
        my (undef, $key, $val, $path, $domain) = @_;
        push @c, [$key, $val, $path, $domain];
    });
    return @c;
}

sub cookie_value {
    my ($ua, $name) = @_;
    for my $c (_jar_cookies($ua)) {
        return $c->[1] if $c->[0] eq $name;
    }
    return undef;
}

sub cookie_names { my $ua = shift; return map { $_->[0] } _jar_cookies($ua) }

# Put a cookie for the Apache test host into a browser's jar (replaces one of
# the same name).
sub set_cookie {
    my ($ua, $name, $value) = @_;
    my $jar = $ua->cookie_jar or croak 'browser has no cookie jar';
    my $host = config()->{vars}{servername};
    my $domain = $host =~ /\./ ? $host : "$host.local";
    $jar->set_cookie(0, $name, $value, '/', $domain, undef, 1, 0, 3600, 0);
}

# ------------------------------------------------------------- sign-in ----

my $secrets_file;
sub _secrets_file {
    $secrets_file ||= File::Spec->catfile(t_logs(), 'entra_secrets_seen.txt');
}

# Remember a value that must never show up in the error log
# (read back by t/99_no_secrets.t).
sub record_secret {
    my ($kind, $value) = @_;
    return unless defined $value && length $value >= 8;
    open my $fh, '>>', _secrets_file() or return;
    print $fh "$kind\t$value\n";
    close $fh;
}

sub _record_cookies {
    my $r = shift;
    for my $h (set_cookie_headers($r)) {
        my ($n, $v) = $h =~ /^\s*([^=;\s]+)\s*=\s*"?([^";]*)/ or next;
        record_secret("cookie:$n", $v) if length $v;
    }
}

# Step 1: a protected URL, no session -> 302 to the authorize endpoint
sub start_login {
    local $_;
    my ($ua, $vhost, $path, %h) = @_;
    my $r = $ua->get(url($vhost, $path // '/app/'), %h);
    _record_cookies($r);
    return $r;
}

# Step 2: the browser at Entra -> 302 back to the redirect URI with code+state
sub authorize_at_mock {
    local $_;
    my ($ua, $login) = @_;
    my $loc = abs_location($login) // croak 'authorize_at_mock: no Location';
    my $r = $ua->get($loc);
    if (my $back = location($r)) {
        my $q = query_params($back);
        record_secret('code', $q->{code}) if $q->{code};
    }
    return $r;
}

# Step 3: the browser back at Apache's callback -> 302 to the original URL
sub finish_callback {
    local $_;
    my ($ua, $authz) = @_;
    my $loc = abs_location($authz) // croak 'finish_callback: no Location';
    my $r = $ua->get($loc);
    _record_cookies($r);
    return $r;
}

# Follow one redirect
sub follow {
    local $_;
    my ($ua, $r, %h) = @_;
    my $loc = abs_location($r) // croak 'follow: no Location';
    my $n = $ua->get($loc, %h);
    _record_cookies($n);
    return $n;
}

# The whole sign-in by hand.  Scalar context: the final response (the first
# one that is not the expected redirect, or the original URL's answer).
# List context: (final, \%steps) with steps start, authorize, callback, final,
# authorize_url, authorize_params, callback_url, callback_params.
sub sign_in {
    local $_;    # LWP loads modules lazily and may clobber $_: keep the caller's
    my ($ua, $vhost, $path) = @_;
    my %s;
    $s{start} = start_login($ua, $vhost, $path);
    my $done = sub { $s{final} = shift; return wantarray ? ($s{final}, \%s) : $s{final} };

    return $done->($s{start}) unless $s{start}->code == 302 && location($s{start});
    $s{authorize_url}    = abs_location($s{start});
    $s{authorize_params} = query_params($s{authorize_url});
    return $done->($s{start}) unless $s{authorize_url} =~ m{/oauth2/};

    $s{authorize} = authorize_at_mock($ua, $s{start});
    return $done->($s{authorize}) unless $s{authorize}->code == 302 && location($s{authorize});
    $s{callback_url}    = abs_location($s{authorize});
    $s{callback_params} = query_params($s{callback_url});

    $s{callback} = finish_callback($ua, $s{authorize});
    return $done->($s{callback}) unless $s{callback}->code == 302 && location($s{callback});

    # the token request the mock saw carries the code verifier: remember it
    my $st = eval { mock_stats() };
    if ($st && $st->{last}{token}) {
        record_secret('code_verifier', $st->{last}{token}{code_verifier});
        record_secret('code', $st->{last}{token}{code});
    }
    return $done->(follow($ua, $s{callback}));
}

# The whole sign-in at an absolute URL (a private server Apache::Test does
# not know), every step kept: (final, \%steps) with start, authorize,
# callback.  Scalar context: the final response (the first one that is not
# the expected redirect, or the original URL's answer).  @h: headers for
# the first and the last request.
sub sign_in_url {
    local $_;
    my ($ua, $url, @h) = @_;
    my %s;
    my $done = sub { $s{final} = shift; return wantarray ? ($s{final}, \%s) : $s{final} };
    $s{start} = $ua->get($url, @h);
    return $done->($s{start}) unless is_login_redirect($s{start});
    $s{authorize} = $ua->get(abs_location($s{start}));
    return $done->($s{authorize}) unless $s{authorize}->code == 302 && location($s{authorize});
    $s{callback} = $ua->get(abs_location($s{authorize}));
    return $done->($s{callback}) unless $s{callback}->code == 302 && location($s{callback});
    return $done->($ua->get(abs_location($s{callback}), @h));
}

# A random GUID; $n (optional) in its last part keeps the GUIDs of a list
# apart
sub random_guid {
    my $n = shift // 0;
    return sprintf '%08x-%04x-4%03x-8%03x-%012x', int(rand(2**32)), int(rand(2**16)),
                   int(rand(4096)), int(rand(4096)), int(rand(2**32)) * 65536 + $n;
}

# $v with the base64url character at $i changed in its high bit (the low
# bits of the last one may be padding a lenient decoder ignores)
my $B64 = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
sub flip_b64 {
    my ($v, $i) = @_;
    my $p = index($B64, substr($v, $i, 1));
    substr($v, $i, 1) = $p < 0 ? 'A' : substr($B64, $p ^ 32, 1);
    return $v;
}

# ------------------------------------------------------------ the clock ---

# The module's clock in a test build (configure --enable-test-clock, as
# scripts/test.sh builds it; src/util.h entra_now): t/TEST names a file in
# $ENTRA_TEST_CLOCK_FILE whose number of seconds the module adds to the
# time it decides expiry by (r->request_time, refresh and fetch back-offs).
# advance_clock moves it forward instead of sleeping; each test file's
# moves are undone when it ends, so files do not see each other's time.
my ($clock_offset, $clock_moved) = (0, 0);
my $has_clock;

# Is the module under test built with the test clock?
sub test_clock {
    return $has_clock if defined $has_clock;
    $has_clock = 0;
    my $file = $ENV{ENTRA_TEST_CLOCK_FILE} or return 0;
    my $so = File::Spec->catfile(t_dir(), '..', '.libs', 'mod_auth_entra.so');
    open my $fh, '<:raw', $so or return 0;
    local $/;
    my $bin = <$fh> // '';
    $has_clock = index($bin, 'ENTRA_TEST_CLOCK_FILE') >= 0 ? 1 : 0;
    return $has_clock;
}

sub _write_clock {
    my $file = $ENV{ENTRA_TEST_CLOCK_FILE};
    open my $fh, '>', "$file.$$" or croak "cannot write $file.$$: $!";
    print $fh "$clock_offset\n";
    close $fh;
    rename "$file.$$", $file or croak "cannot rename to $file: $!";
}

# Let $secs pass for the module: its clock moves on at once (a real sleep
# when the module has no test clock).
sub advance_clock {
    my $secs = shift;
    unless (test_clock()) {
        sleep $secs;
        return;
    }
    $clock_offset += $secs;
    $clock_moved = $$;
    _write_clock();
}

# All the suite's apps share one app registration, and a refresh that found
# Entra unreachable stops that app's refreshes for 5 s (ENTRA00810): a file
# that asserts a refresh happens starts past whatever breaker the file
# before it left, as if it ran alone.
sub past_refresh_breaker { advance_clock(6) }

# The module's time now (seconds, fractional)
sub clock_now { return Time::HiRes::time() + $clock_offset }

END {
    if ($clock_moved && $clock_moved == $$) {
        local ($?, $@, $!);
        $clock_offset = 0;
        eval { _write_clock() };
    }
}

# ------------------------------------------------------- echo backend -----

# The echo backend's JSON (undef when the body is not JSON)
sub echo {
    my $r = shift;
    return undef unless ($r->header('Content-Type') // '') =~ m{json};
    return eval { $JSON->decode($r->content) };
}

# All values of a header the backend received, name compared
# case-insensitively (and exactly as spelled otherwise)
sub echo_header {
    my ($e, $name) = @_;
    my @v;
    for my $k (keys %{ $e->{headers} || {} }) {
        next unless lc $k eq lc $name;
        my $val = $e->{headers}{$k};
        push @v, ref $val eq 'ARRAY' ? @$val : $val;
    }
    return wantarray ? @v : (@v ? join(',', @v) : undef);
}

# { normalised name (lowercase, _ -> -) => [values...] }
sub echo_headers_norm {
    my $e = shift;
    my %h;
    for my $k (keys %{ $e->{headers} || {} }) {
        (my $n = lc $k) =~ tr/_/-/;
        my $val = $e->{headers}{$k};
        push @{ $h{$n} }, ref $val eq 'ARRAY' ? @$val : $val;
    }
    return \%h;
}

# ------------------------------------------------------------ error_log ---

sub error_log { File::Spec->catfile(t_logs(), 'error_log') }

# A mark: the log's current size
sub log_mark { return -s error_log() || 0 }

# The lines of $file written since $mark (a size), after waiting $wait s
# for httpd to write them (the suite's server and the private ones alike)
sub log_file_since {
    my ($file, $mark, $wait) = @_;
    sleep($wait) if $wait;
    open my $fh, '<', $file or return;
    seek $fh, $mark, 0;
    local $/ = "\n";
    my @l = <$fh>;
    chomp @l;
    return @l;
}

# The log lines written since a mark (waits a moment for httpd to write)
sub log_since {
    my ($mark, %o) = @_;
    return log_file_since(error_log(), $mark, $o{wait} // 0.3);
}

# Wait (up to $timeout s) until a line matching $re shows up after $mark
sub wait_log {
    my ($mark, $re, $timeout) = @_;
    my $until = time + ($timeout // 3);
    while (1) {
        my @m = grep { $_ =~ $re } log_since($mark, wait => 0.1);
        return @m if @m || time > $until;
    }
}

# The module's lines since a mark
sub entra_lines {
    my ($mark, %o) = @_;
    return grep { /\[auth_entra:/ } log_since($mark, %o);
}

# The module's ENTRAnnnnn lines since $mark: (those with $id at $level,
# those with $id, all)
sub lines_with {
    my ($mark, $id, $level) = @_;
    my @all = grep { /ENTRA\d{5}:/ } entra_lines($mark, wait => 0.05);
    my @id = grep { /\b$id:/ } @all;
    my @at = grep { /\[auth_entra:$level\]/ } @id;
    return (\@at, \@id, \@all);
}

# Tests that exactly one line since $mark carries $id, and at $level;
# returns it
sub one_line {
    my ($mark, $id, $level, $what) = @_;
    my ($at, $id_lines, $all) = lines_with($mark, $id, $level);
    Test::More::is(scalar @$id_lines, 1, "$what: one $id line") or Test::More::diag(join "\n", @$all);
    Test::More::is(scalar @$at, 1, "$what: ... at $level") or Test::More::diag(join "\n", @$id_lines);
    return $at->[0] // '';
}

# The module's lines at warn or worse since a mark
sub entra_problems {
    my ($mark, %o) = @_;
    return grep { /\[auth_entra:(?:emerg|alert|crit|error|warn)\]/ } log_since($mark, %o);
}

1;
