package EntraShapes;
# Helpers for the production-shape tests (t/78-t/84): a test CA and server
# certificate made with the openssl CLI (no network), browsers that verify
# it, curl (HTTP/2), Set-Cookie headers taken apart, the private server's
# access log (which process served what), and the sign-in by hand at an
# absolute URL.
use strict;
use warnings;

use Exporter 'import';
use Apache::Test ();
use Carp qw(croak);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Headers;
use HTTP::Response;
use LWP::UserAgent;
use Time::HiRes qw(sleep time);
use EntraTest;

our @EXPORT = qw(
    tls_files ca_file tls_ua keepalive_ua cookie_attrs sign_in_url
    curl curl_jar_cookies access_log_lines served_by have_ipv6
);

sub _logs { Apache::Test::vars('t_logs') }

sub _run {
    my @cmd = @_;
    my $out = `@{[ join ' ', map { "'$_'" } @cmd ]} 2>&1`;
    croak "@cmd: failed ($?): $out" if $?;
    return $out;
}

# (server certificate chain file, its key) made once a run in t/logs/tls: a
# test CA (EC P-256) and a certificate it signs for localhost, 127.0.0.1 and
# ::1.  Made in a directory of its own, then renamed into place.
sub tls_files {
    my $dir = File::Spec->catdir(_logs(), 'tls');
    unless (-s "$dir/server.pem" && -s "$dir/server.key" && -s "$dir/ca.pem") {
        my $tmp = tempdir('tls.XXXXXX', DIR => _logs());
        my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes');
        _run('openssl', 'req', '-x509', @ec, '-days', '2', '-subj', '/CN=mod_auth_entra test CA',
             '-addext', 'basicConstraints=critical,CA:TRUE',
             '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
             '-keyout', "$tmp/ca.key", '-out', "$tmp/ca.pem");
        _run('openssl', 'req', '-new', @ec, '-subj', '/CN=localhost',
             '-keyout', "$tmp/server.key", '-out', "$tmp/server.csr");
        open my $ext, '>', "$tmp/server.ext" or croak "server.ext: $!";
        print $ext "basicConstraints=critical,CA:FALSE\n"
                 . "keyUsage=critical,digitalSignature\n"
                 . "extendedKeyUsage=serverAuth\n"
                 . "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n";
        close $ext;
        _run('openssl', 'x509', '-req', '-in', "$tmp/server.csr", '-CA', "$tmp/ca.pem",
             '-CAkey', "$tmp/ca.key", '-CAcreateserial', '-days', '2', '-sha256',
             '-extfile', "$tmp/server.ext", '-out', "$tmp/server.pem");
        chmod 0600, "$tmp/server.key", "$tmp/ca.key";
        remove_tree($dir) if -d $dir;
        rename $tmp, $dir or croak "rename $tmp $dir: $!";
    }
    return ("$dir/server.pem", "$dir/server.key");
}

sub ca_file {
    tls_files();
    return File::Spec->catfile(_logs(), 'tls', 'ca.pem');
}

# A browser (EntraTest::new_ua: own jar, no redirects followed) that speaks
# https and verifies the server against the test CA only.
sub tls_ua {
    my $ua = new_ua(@_);
    $ua->ssl_opts(verify_hostname => 1, SSL_ca_file => ca_file(), SSL_ca_path => undef);
    return $ua;
}

# A client that keeps its one connection open between requests (no jar
# unless jar => an HTTP::Cookies to share: cookies go in by hand).  On mpm_prefork each such connection holds a
# process of its own for as long as it stays open.
sub keepalive_ua {
    my %o = @_;
    my $ua = LWP::UserAgent->new(agent => 'EntraTest/1.0', timeout => 30, max_redirect => 0,
                                 requests_redirectable => [], keep_alive => 1, env_proxy => 0);
    $ua->ssl_opts(verify_hostname => 1, SSL_ca_file => ca_file()) if $o{tls};
    $ua->cookie_jar($o{jar}) if $o{jar};
    return $ua;
}

# A Set-Cookie header taken apart: (name, value, { lc attribute => value
# (1 for a flag) }, [attribute names as sent, in order])
sub cookie_attrs {
    my $h = shift // return;
    my ($pair, @attrs) = split /\s*;\s*/, $h;
    my ($name, $value) = split /=/, $pair, 2;
    my (%a, @order);
    for (@attrs) {
        my ($k, $v) = split /=/, $_, 2;
        $a{lc $k} = $v // 1;
        push @order, $k;
    }
    return ($name, $value, \%a, \@order);
}

# sign_in_url (the whole sign-in at an absolute URL) is EntraTest's,
# exported from here too

# ----------------------------------------------------------------- curl ---

# One curl run (verifying against the test CA; never following redirects):
# { code, version ("2", "1.1"), headers (HTTP::Headers of the last answer),
#   body, connects (new connections made) }.  jar => file: read and write
# cookies there.  Extra curl arguments in @args (e.g. --http2, -H ...).
my $curl_n = 0;
sub curl {
    my ($url, %o) = @_;
    my $dir = File::Spec->catdir(_logs(), 'curl');
    make_path($dir);
    my $n = ++$curl_n;
    my ($hf, $bf) = ("$dir/$$.$n.h", "$dir/$$.$n.b");
    my @cmd = ('curl', '-sS', '--cacert', ca_file(), '--noproxy', '*', '-D', $hf, '-o', $bf,
               '-w', '%{http_version} %{http_code} %{num_connects}', '--max-time', '20',
               ($o{jar} ? ('-b', $o{jar}, '-c', $o{jar}) : ()), @{ $o{args} || [] }, $url);
    open my $fh, '-|', @cmd or croak "curl: $!";
    my $w = do { local $/; <$fh> } // '';
    close $fh;
    my ($version, $code, $connects) = split ' ', $w;
    my $raw = do { local $/; open my $h, '<', $hf or undef; $h ? <$h> : '' } // '';
    my $body = do { local $/; open my $b, '<', $bf or undef; $b ? <$b> : '' } // '';
    unlink $hf, $bf;
    # the last header block (curl writes one per answer, 1xx included)
    my @blocks = grep { /\S/ } split /\r?\n\r?\n/, $raw;
    my $res = HTTP::Response->parse($blocks[-1] // '');
    return { code => $code // 0, version => $version // '', headers => $res->headers,
             body => $body, connects => $connects // 0, raw_headers => $blocks[-1] // '' };
}

# The cookies in a curl jar file: { name => { value, domain, path, secure,
# httponly } }
sub curl_jar_cookies {
    my $jar = shift;
    my %c;
    open my $fh, '<', $jar or return {};
    while (my $l = <$fh>) {
        chomp $l;
        my $httponly = $l =~ s/^#HttpOnly_//;
        next if $l =~ /^#/ || $l !~ /\S/;
        my ($domain, undef, $path, $secure, undef, $name, $value) = split /\t/, $l;
        $c{$name} = { value => $value, domain => $domain, path => $path,
                      secure => $secure eq 'TRUE' ? 1 : 0, httponly => $httponly ? 1 : 0 };
    }
    return \%c;
}

# ---------------------------------------------------------- access log ---

# The private server's access-log lines (start_apache access_log => 1) as
# [pid, client port, path, status, protocol]
sub access_log_lines {
    my ($S) = @_;
    open my $fh, '<', $S->access_log or return;
    my @l;
    while (<$fh>) {
        chomp;
        push @l, [split / /];
    }
    return @l;
}

# The pid of the process that served the last request for $path (with any
# query unless $path has one; logged after
# the answer: waits for the line a moment)
sub served_by {
    my ($S, $path) = @_;
    my $until = time + 3;
    while (1) {
        for my $l (reverse access_log_lines($S)) {
            return $l->[0] if $l->[2] eq $path || index($l->[2], "$path?") == 0;
        }
        return undef if time > $until;
        sleep 0.05;
    }
}

# ------------------------------------------------------------------ IPv6 ---

# Is there an IPv6 loopback to listen on?  ('' when yes, or the reason not)
sub have_ipv6 {
    require IO::Socket::IP;
    my $s = IO::Socket::IP->new(Listen => 1, LocalHost => '::1', LocalPort => 0, Proto => 'tcp');
    return $s ? '' : "no IPv6 loopback (::1) on this machine: $@";
}

1;
