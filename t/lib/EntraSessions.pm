package EntraSessions;
# Helpers for the session tests (t/41_* .. t/49_*), on top of EntraTest.pm:
# the session cookies a browser holds, hand-made Cookie headers, requests
# without a jar, the mock's own-API tokens, concurrent requests, and the
# echo backend's headers.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Temp qw(tempfile);
use HTTP::Request;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);
use URI::Escape qw(uri_escape);
use EntraTest;

our @EXPORT = qw(
    session_cookies session_cookie_header raw_get raw_request cleared_cookie
    chunk_names backend_header token_of api_token api_token_json decode_jwt
    parallel_get in_parallel grants set_cookie_values drop_cookie is_api_challenge
    SP_OID FOREIGN_TID APP_ID_URI
);

use constant {
    SP_OID      => '5e0b7f4a-2c1d-4e3f-9a8b-7c6d5e4f3a2b',
    FOREIGN_TID => '0b9d7f3e-5a4c-4e2b-9d1f-6c8a7e5b3d2f',
    APP_ID_URI  => 'api://' . EntraTest::CLIENT_ID,
};

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

# { name => value } of the entra_session* cookies in a browser's jar
sub session_cookies {
    my $ua = shift;
    my %c;
    my $jar = $ua->cookie_jar or return {};
    $jar->scan(sub {
        my (undef, $k, $v) = @_;
        $c{$k} = $v if $k =~ /^entra_session(?:_\d+)?$/;
    });
    return \%c;
}

# The chunk cookie names (entra_session_<n>), in index order
sub chunk_names {
    my $c = shift;
    return sort { ($a =~ /(\d+)$/)[0] <=> ($b =~ /(\d+)$/)[0] } grep { /^entra_session_\d+$/ } keys %$c;
}

# A Cookie header from [name, value] pairs, in the order given
sub session_cookie_header {
    my @pairs = @_;
    return join '; ', map { "$_->[0]=$_->[1]" } @pairs;
}

# GET with a hand-made Cookie header (no jar); extra headers after
sub raw_get {
    my ($vhost, $path, $cookie, @h) = @_;
    my $ua = new_ua(no_cookies => 1);
    return $ua->get(url($vhost, $path), (defined $cookie ? (Cookie => $cookie) : ()), @h);
}

# Any method, hand-made headers, no jar
sub raw_request {
    my ($method, $vhost, $path, $headers, $content) = @_;
    my $ua = new_ua(no_cookies => 1);
    my $req = HTTP::Request->new($method => url($vhost, $path), [@{ $headers || [] }],
                                 $content // '');
    $req->header('Content-Length' => length($content // ''))
        if $method eq 'POST' || $method eq 'PUT';
    return $ua->request($req);
}

# The Set-Cookie header that deletes a cookie (Max-Age=0 or an old Expires), or undef
sub cleared_cookie {
    my ($res, $name) = @_;
    my $h = find_set_cookie($res, $name) // return undef;
    return $h =~ /;\s*(?:Max-Age=0\b|Expires=[^;]*(?:19[0-9][0-9]|1970))/i ? $h : undef;
}

# Put cookies into a browser's jar (replacing those of the same name)
sub set_cookie_values {
    my ($ua, %c) = @_;
    set_cookie($ua, $_, $c{$_}) for keys %c;
}

sub drop_cookie {
    my ($ua, $name) = @_;
    my $jar = $ua->cookie_jar;
    my @del;
    $jar->scan(sub { my (undef, $k, undef, $path, $domain) = @_; push @del, [$domain, $path, $k] if $k eq $name });
    $jar->clear(@$_) for @del;
}

# All values of a header the echo backend received, joined with "\0"; undef if none
sub backend_header {
    my ($res, $name) = @_;
    my $e = echo($res) or return undef;
    my @v = echo_header($e, $name);
    return @v ? join("\0", @v) : undef;
}

# The access token the backend was passed (EntraPassAccessToken On)
sub token_of { backend_header($_[0], 'X-Entra-Access-Token') }

# 401 with a Bearer challenge, no redirect, no login started
sub is_api_challenge {
    my $r = shift;
    return $r->code == 401
        && ($r->header('WWW-Authenticate') // '') =~ /^Bearer\b/
        && !defined $r->header('Location')
        && !find_set_cookie($r, qr/^entra_session_state_/);
}

# An own-API access token minted by the mock (GET /_mock/api_token)
sub api_token {
    my %q = @_;
    my $qs = join '&', map { uri_escape($_) . '=' . uri_escape($q{$_}) } sort keys %q;
    my $r = mock_get('/_mock/api_token' . (length $qs ? "?$qs" : ''));
    croak 'api_token: ' . $r->status_line . ' ' . $r->content unless $r->is_success;
    return $r->content;
}

sub api_token_json {
    my %q = @_;
    return $JSON->decode(api_token(%q, format => 'json'));
}

# (header, claims) of a JWT, no verification
sub decode_jwt {
    my $t = shift // return;
    my @p = split /\./, $t;
    return unless @p >= 2;
    require MIME::Base64;
    my @d = map {
        (my $s = $_) =~ tr/-_/+\//;
        $s .= '=' x ((4 - length($s) % 4) % 4);
        eval { $JSON->decode(MIME::Base64::decode_base64($s)) };
    } @p[0, 1];
    return @d;
}

# The mock's token requests by grant type
sub grants { return mock_stats()->{grants} || {} }

# Runs $code->($i) for $i = 1 .. $n at once, each in a forked child; returns
# what each returned (one line of text), in order ("" when a child died).
sub in_parallel {
    my ($n, $code) = @_;
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $rd, my $wr) or croak "pipe: $!";
        my $pid = fork;
        croak "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $rd;
            print $wr $code->($i), "\n";
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my @out;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $line = <$fh> // '';
        chomp $line;
        push @out, $line;
        waitpid($k->[0], 0);
    }
    return @out;
}

# N GETs at once (forked children), each with its own headers: returns
# [{code, location, set_cookie => [...], headers_seen => echo JSON}, ...]
sub parallel_get {
    my ($vhost, $path, @header_sets) = @_;
    my @kids;
    for my $i (0 .. $#header_sets) {
        my ($fh, $file) = tempfile(UNLINK => 0);
        close $fh;
        my $pid = fork;
        croak "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $ua = new_ua(no_cookies => 1);
            my $r = $ua->get(url($vhost, $path), @{ $header_sets[$i] });
            my $out = {
                code       => $r->code,
                location   => scalar $r->header('Location'),
                set_cookie => [set_cookie_headers($r)],
                echo       => echo($r),
            };
            if (open my $o, '>', $file) { print $o $JSON->encode($out); close $o }
            POSIX::_exit(0);
        }
        push @kids, [$pid, $file];
    }
    my @res;
    for my $k (@kids) {
        waitpid($k->[0], 0);
        my $data = do { local $/; open my $i, '<', $k->[1] or undef; $i ? <$i> : undef };
        unlink $k->[1];
        push @res, $data ? $JSON->decode($data) : { code => 0 };
    }
    return @res;
}

1;
