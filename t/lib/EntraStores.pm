package EntraStores;
# Helpers for the server-side session store tests (t/65-69): what Redis and
# memcached hold, a front-channel logout as Entra's hidden frame sends it,
# and a second, private Apache that shares the suite's Redis.
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use URI::Escape qw(uri_escape uri_unescape);
use EntraTest;

our @EXPORT = qw(
    REDIS_CLI redis_port memcached_port redis_cmd redis_keys redis_dump
    memcached_cmd memcached_keys memcached_dump
    big_user session_sid session_cookie replay front_channel_logout sign_in_at
    free_port start_apache own_redis
);

use constant REDIS_CLI => '/usr/bin/redis-cli';

sub redis_port {
    return $ENV{ENTRA_REDIS_PORT} || croak 'ENTRA_REDIS_PORT is not set (run through t/TEST)';
}

sub memcached_port {
    return $ENV{ENTRA_MEMCACHED_PORT}
        || croak 'ENTRA_MEMCACHED_PORT is not set (run through t/TEST)';
}

# ------------------------------------------------------------------ Redis ---

# redis-cli's raw output lines (port: the suite's Redis unless given)
sub redis_cmd {
    my ($port, @args) = ref $_[0] eq 'HASH' ? ($_[0]{port}, @_[1 .. $#_]) : (redis_port(), @_);
    open my $fh, '-|', REDIS_CLI, '-h', '127.0.0.1', '-p', $port, '--raw', @args
        or croak "cannot run redis-cli: $!";
    local $/ = "\n";
    my @l = <$fh>;
    close $fh;
    chomp @l;
    return wantarray ? @l : join("\n", @l);
}

# Every key in the suite's Redis (redis-cli --scan)
sub redis_keys {
    open my $fh, '-|', REDIS_CLI, '-h', '127.0.0.1', '-p', redis_port(), '--scan'
        or croak "cannot run redis-cli: $!";
    local $/ = "\n";
    my @k = <$fh>;
    close $fh;
    chomp @k;
    return grep { length } @k;
}

# { key => value } for the given keys (all keys without arguments)
sub redis_dump {
    my @keys = @_ ? @_ : redis_keys();
    my %d;
    $d{$_} = scalar redis_cmd('GET', $_) for @keys;
    return \%d;
}

# -------------------------------------------------------------- memcached ---

# One memcached text-protocol command; the answer's lines up to END (or the
# first line for commands that answer one line).
sub memcached_cmd {
    my ($cmd, %o) = @_;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => memcached_port(),
                                  Proto => 'tcp', Timeout => 5)
        or croak "cannot reach memcached: $!";
    $c->autoflush(1);
    print $c "$cmd\r\n";
    my $all = '';
    my $until = time + 5;
    while (time < $until) {
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        last unless select($rin, undef, undef, 0.5);
        my $n = sysread($c, my $buf, 65536);
        last unless $n;
        $all .= $buf;
        last if $all =~ /(?:^|\r\n)(?:END|ERROR|CLIENT_ERROR[^\r]*|SERVER_ERROR[^\r]*)\r\n$/;
        last if $o{one_line} && $all =~ /\r\n/;
    }
    close $c;
    return split /\r?\n/, $all;
}

# Every key memcached holds (lru_crawler metadump all), unescaped.  The
# crawler can miss an item that the LRU maintainer moves while it walks (a
# key just read): the union of a few passes.
sub memcached_keys {
    my %k;
    for my $pass (1 .. 4) {
        sleep 0.15 if $pass > 1;
        $k{$_} = 1 for map { /^key=(\S+)/ ? uri_unescape($1) : () }
                       memcached_cmd('lru_crawler metadump all');
    }
    return sort keys %k;
}

# { key => value } for the given keys (all keys without arguments)
sub memcached_dump {
    my @keys = @_ ? @_ : memcached_keys();
    my %d;
    for my $k (@keys) {
        my @l = memcached_cmd("get $k");
        # VALUE <key> <flags> <bytes> / data / END
        $d{$k} = @l >= 2 && $l[0] =~ /^VALUE / ? $l[1] : undef;
    }
    return \%d;
}

# ---------------------------------------------------------------- sessions ---

# The default user with 200 groups (Entra puts at most 200 in a token; more
# is an overage claim) and a claim of 9000 random characters that no
# compression shrinks much: a session far too big for one cookie.  Returns
# that claim's value.
sub big_user {
    my @c = ('A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_');
    my $blob = join '', map { $c[rand @c] } 1 .. 9000;
    mock_config({ user => { groups_count => 198, x_blob => $blob } });
    return $blob;
}

# The sid claim the backend saw (X-Entra-Claim-sid)
sub session_sid {
    my $e = echo(shift) or return undef;
    return scalar echo_header($e, 'X-Entra-Claim-sid');
}

sub session_cookie { cookie_value(shift, 'entra_session') }

# A fresh browser that holds only this session cookie value
sub replay {
    my $cookie = shift;
    my $ua = new_ua();
    set_cookie($ua, 'entra_session', $cookie) if defined $cookie;
    return $ua;
}

# The whole sign-in at an absolute URL: EntraTest::sign_in_url
sub sign_in_at { return scalar EntraTest::sign_in_url(@_) }

# Entra's front-channel logout: GET <base>/.auth/logout?sid=... from a hidden
# iframe on Entra's page: no cookie (third-party cookies blocked), and the
# browser says it is cross-site.
sub front_channel_logout {
    my ($base, $sid, %o) = @_;
    my $ua = $o{ua} || new_ua(no_cookies => 1);
    return $ua->get("$base/.auth/logout?sid=" . uri_escape($sid),
                    'Sec-Fetch-Site' => 'cross-site',
                    'Sec-Fetch-Mode' => 'navigate',
                    'Sec-Fetch-Dest' => 'iframe',
                    'Referer'        => mock_url('/'),
                    'Accept'         => 'text/html,application/xhtml+xml,*/*;q=0.8');
}

# ------------------------------------------------------ a second Apache ---

# A port for a private server: one of the run's block, held by this test
# until it ends (t/lib/EntraPorts.pm), not found by bind-then-close
sub free_port {
    require EntraPorts;
    return EntraPorts::hold_port('private');
}

my $MODULES = '/usr/lib/apache2/modules';

# A private Apache (not Apache::Test's) on a free port: the same module, the
# same tenant, client, session key and mock as the suite, sessions in the
# given socache store.  Returns an object: ->base, ->port, ->error_log,
# ->stop (also done when the object goes away).
sub start_apache {
    my %o = @_;
    my $name  = $o{name} || 'second';
    # store: an EntraSessionStore value, or undef for the cookie store;
    # mpm: event (default) or prefork; debian_modules: only the modules a new
    # Debian server has (no socache module) plus what the app needs.
    # Production shapes (t/78-t/84): secure => 1 keeps the default
    # EntraCookieSecure On; tls => 1 serves https with the suite's test
    # certificate (EntraShapes::tls_files); h2 => 1 loads mod_http2 (h2 on
    # TLS, h2c without); ipv6 => 1 also listens on [::1] (->base6); servers
    # => N event processes (default 1); access_log => 1 logs "pid remote-port
    # path status" to ->access_log; location: more lines in <Location /app>;
    # cookie_name => undef for the module's default cookie names; secret =>
    # undef for no EntraClientSecret (another credential in extra)
    my $store = $o{store};
    my $mpm = $o{mpm} || 'event';
    my $t_dir = Apache::Test::vars('t_dir');
    my $dir   = File::Spec->catdir(Apache::Test::vars('t_logs'), "apache_$name");
    my $so    = File::Spec->rel2abs("$t_dir/../.libs/mod_auth_entra.so");
    -f $so or croak "start_apache: $so is missing";
    remove_tree($dir);
    make_path($dir);
    my $port = free_port();
    my $mock = $ENV{ENTRA_MOCK_PORT} or croak 'ENTRA_MOCK_PORT is not set';
    my $backend = $ENV{ENTRA_BACKEND_PORT} or croak 'ENTRA_BACKEND_PORT is not set';
    my ($tenant, $client, $secret, $key) = (TENANT, CLIENT_ID, CLIENT_SECRET, $o{key} || KEY_MAIN);
    my $extra = $o{extra} // '';
    my $store_line = defined $store ? "EntraSessionStore $store" : '';
    my $secure_line = $o{secure} ? '' : 'EntraCookieSecure Off';
    my $cookie_name = exists $o{cookie_name} ? $o{cookie_name} : 'entra_session';
    my $cookie_line = defined $cookie_name ? "EntraCookieName   $cookie_name" : '';
    my $secret_line = exists $o{secret} && !defined $o{secret} ? '' : "EntraClientSecret $secret";
    my $location = $o{location} // '';
    my $servers = $o{servers} || 1;
    my $listen = "Listen            127.0.0.1:$port" . ($o{tls} ? ' https' : '');
    $listen .= "\nListen            [::1]:$port" . ($o{tls} ? ' https' : '') if $o{ipv6};
    my $shapes = '';
    if ($o{tls}) {
        require EntraShapes;
        my ($cert, $key) = EntraShapes::tls_files();
        $shapes .= "LoadModule ssl_module $MODULES/mod_ssl.so\n"
                 . "SSLEngine on\nSSLCertificateFile \"$cert\"\nSSLCertificateKeyFile \"$key\"\n"
                 . "SSLSessionCache none\nSSLRandomSeed startup builtin\n";
    }
    if ($o{h2}) {
        $shapes .= "LoadModule http2_module $MODULES/mod_http2.so\n"
                 . 'Protocols ' . ($o{tls} ? 'h2' : 'h2c') . " http/1.1\n";
    }
    if ($o{access_log}) {
        $shapes .= "LogFormat \"%P %{remote}p %U%q %>s %H\" entra_shapes\n"
                 . "CustomLog \"$dir/access_log\" entra_shapes\n";
    }
    my $socache = $o{debian_modules} ? '' : join "\n",
        "LoadModule socache_shmcb_module    $MODULES/mod_socache_shmcb.so",
        "LoadModule socache_redis_module    $MODULES/mod_socache_redis.so",
        "LoadModule socache_memcache_module $MODULES/mod_socache_memcache.so";
    my $mpm_conf = $mpm eq 'prefork'
        ? "StartServers 6\nMinSpareServers 6\nMaxSpareServers 12\nServerLimit 16\nMaxRequestWorkers 16"
        : "StartServers $servers\nServerLimit $servers\nThreadsPerChild 8\nThreadLimit 8\n"
          . "MinSpareThreads 1\nMaxSpareThreads " . (16 * $servers) . "\nMaxRequestWorkers " . (8 * $servers);
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or croak "start_apache: $conf: $!";
    print $fh <<"EOC";
# generated by t/lib/EntraStores.pm: a second server sharing the session store
ServerRoot        "$dir"
ServerName        localhost
$listen
PidFile           "$dir/httpd.pid"
ErrorLog          "$dir/error_log"
DefaultRuntimeDir "$dir"
Mutex             file:$dir default
LogLevel          info auth_entra:trace8
Timeout           30
GracefulShutdownTimeout 5

LoadModule mpm_${mpm}_module        $MODULES/mod_mpm_${mpm}.so
LoadModule authn_core_module       $MODULES/mod_authn_core.so
LoadModule authz_core_module       $MODULES/mod_authz_core.so
LoadModule authz_user_module       $MODULES/mod_authz_user.so
LoadModule proxy_module            $MODULES/mod_proxy.so
LoadModule proxy_http_module       $MODULES/mod_proxy_http.so
LoadModule headers_module          $MODULES/mod_headers.so
$socache
LoadModule auth_entra_module       "$so"
$shapes
$mpm_conf

EntraAuthority    http://127.0.0.1:$mock
EntraTenant       $tenant
EntraClientID     $client
$cookie_line
$secret_line
EntraSessionKey   $key
$secure_line
$store_line
$extra

ProxyPass /app/ http://127.0.0.1:$backend/app/
<Location /app>
    AuthType Entra
    Require valid-user
    RequestHeader set X-Test-Remote-User "expr=%{REMOTE_USER}"
    RequestHeader set X-Test-Server "$name"
$location
</Location>
EOC
    close $fh;

    # its site in the app registration, as for every server of an app
    my ($redirect) = $extra =~ /^\s*EntraRedirectURI\s+(\S+)/m;
    $redirect //= '/.auth/login/aad/callback';
    my $scheme = $o{tls} ? 'https' : 'http';
    $redirect = "$scheme://localhost:$port$redirect" if $redirect =~ m{^/};
    my $reg = EntraTest::mock_post('/_mock/app',
                                   { add_redirect_uris => [$redirect, "$scheme://localhost:$port/"] });
    croak 'start_apache: cannot register its redirect URI: ' . $reg->status_line unless $reg->is_success;

    my $out = "$dir/start.out";
    # the suite's own httpd (the ASan run wraps it with libasan preloaded)
    my $httpd = Apache::Test::vars('httpd') || '/usr/sbin/apache2';
    my $rc = system("'$httpd' -f '$conf' -k start >'$out' 2>&1");
    my $self = bless { dir => $dir, conf => $conf, port => $port, name => $name,
                       scheme => $o{tls} ? 'https' : 'http' },
                     'EntraStores::Apache';
    if ($rc != 0) {
        my $msg = _slurp($out) . _slurp("$dir/error_log");
        croak "start_apache: apache2 -k start failed ($rc): $msg";
    }
    # wait for the pid file and the port
    my $until = time + 15;
    while (time < $until) {
        if (-s "$dir/httpd.pid"
            && IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1)) {
            $self->{pid} = 0 + _slurp("$dir/httpd.pid");
            return $self;
        }
        sleep 0.1;
    }
    $self->stop;
    croak "start_apache: not answering on $port: " . _slurp("$dir/error_log");
}

package EntraStores::Apache;
use strict;
use warnings;
use Time::HiRes qw(sleep time);

*_slurp = \&EntraStores::_slurp;

package EntraStores;

sub _slurp {
    my $f = shift;
    open my $fh, '<', $f or return '';
    local $/;
    my $c = <$fh>;
    return $c // '';
}

package EntraStores::Apache;

sub port      { $_[0]{port} }
sub base      { ($_[0]{scheme} || 'http') . '://localhost:' . $_[0]{port} }
sub base6     { ($_[0]{scheme} || 'http') . '://[::1]:' . $_[0]{port} }
sub dir       { $_[0]{dir} }
sub access_log { "$_[0]{dir}/access_log" }
sub url       { $_[0]->base . ($_[1] // '/') }
sub error_log { "$_[0]{dir}/error_log" }
sub log_mark  { -s $_[0]->error_log || 0 }

sub log_since {
    my ($self, $mark) = @_;
    return EntraTest::log_file_since($self->error_log, $mark, 0.3);
}

# A graceful restart (SIGUSR1): the parent re-reads its configuration and
# starts new children; waits until the new generation answers.
sub graceful {
    my $self = shift;
    my $mark = $self->log_mark;
    my $pid = $self->{pid} or return 0;
    kill 'USR1', $pid or return 0;
    my $until = time + 15;
    while (time < $until) {
        return 1 if grep { /resuming normal operations/ } $self->log_since($mark);
        sleep 0.2;
    }
    return 0;
}

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid};
    unless ($pid) {
        my $p = _slurp("$self->{dir}/httpd.pid");
        $pid = $p =~ /^(\d+)/ ? $1 : 0;
    }
    return unless $pid;
    # As an administrator stops it (apachectl graceful-stop): requests under
    # way end first (GracefulShutdownTimeout bounds them). A SIGTERM ended
    # children in the middle of a TLS request, and under ASan one of them
    # now and then crashed in the libraries' exit (no report from our code),
    # which failed the hardening run.
    kill 'WINCH', $pid;
    return if _gone($pid, 8);
    kill 'TERM', $pid;
    return if _gone($pid, 10);
    kill 'KILL', $pid;
}

# Whether process $pid ends within $seconds.
sub _gone {
    my ($pid, $seconds) = @_;
    my $until = time + $seconds;
    while (time < $until) {
        return 1 unless kill 0, $pid;
        sleep 0.05;
    }
    return 0;
}

sub DESTROY {
    my $self = shift;
    local ($?, $@, $!);
    $self->stop if $self->{pid};
}


# ---------------------------------------------------- a Redis of the test's own

package EntraStores;

# own_redis(port => P, log => FILE, args => [...]): a redis-server a test
# starts, stops and starts again on its own port (t/67, t/76), extra
# redis-server arguments in args. ->up (answers PING), ->start (waits until
# it answers; 0 when it does not within 15 s), ->stop (TERM, then KILL);
# stopped when the object goes.
sub own_redis {
    my %o = @_;
    return bless { port => $o{port}, log => $o{log}, args => $o{args} || [] },
                 'EntraStores::OwnRedis';
}

package EntraStores::OwnRedis;

sub up {
    my $self = shift;
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 1)
        or return 0;
    print $c "PING\r\n";
    my $l = <$c> // '';
    return $l =~ /^\+PONG/;
}

sub start {
    my $self = shift;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log};
        open STDERR, '>&', \*STDOUT;
        exec('/usr/bin/redis-server', '--port', $self->{port}, '--bind', '127.0.0.1',
             @{ $self->{args} }) or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    my $until = Time::HiRes::time() + 15;
    while (Time::HiRes::time() < $until) {
        return 1 if $self->up;
        last if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.02);
    }
    return 0;
}

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    for (1 .. 500) {
        return 1 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.01);
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 1;
}

sub DESTROY {
    my $self = shift;
    local ($?, $@, $!);
    $self->stop if $self->{pid};
}

package EntraStores;

1;
