# One kept-alive HTTP/1.1 connection, written by hand: what a browser, a
# client library or a front proxy sends, several requests on one TCP
# connection (pipelined when written at once). Used by the tests of what a
# connection keeps (t/98_*).
package EntraConn;
use strict;
use warnings;
use IO::Socket::INET;
use HTTP::Response;

# A connection to 127.0.0.1:$port (dies when it cannot connect)
sub new {
    my ($class, $port) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
        or die "connect to $port: $!";
    return bless { sock => $sock, reads => 0 }, $class;
}

# The text of one GET: Host, then each of @headers ([name, value] pairs)
sub request_text {
    my ($host, $path, @headers) = @_;
    return "GET $path HTTP/1.1\r\nHost: $host\r\n"
           . join('', map { "$_->[0]: $_->[1]\r\n" } @headers) . "\r\n";
}

sub send_text { my ($self, $text) = @_; print { $self->{sock} } $text; }

# The next response on the connection (HTTP::Response), undef when the
# server closed it
sub read_one {
    my $self = shift;
    my $sock = $self->{sock};
    my $head = '';
    while (defined(my $line = <$sock>)) {
        $head .= $line;
        last if $line eq "\r\n";
    }
    return undef unless $head =~ /\r\n\r\n\z/;
    my $res = HTTP::Response->parse($head);
    my $body = '';
    if (($res->header('Transfer-Encoding') // '') =~ /chunked/i) {
        while (defined(my $size = <$sock>)) {
            my $n = hex($size =~ s/[;\r\n].*//sr);
            last if $n == 0;
            read($sock, my $chunk, $n);
            $body .= $chunk;
            <$sock>;
        }
        <$sock>;
    }
    elsif (my $len = $res->header('Content-Length')) {
        read($sock, $body, $len);
    }
    $res->content($body);
    $self->{reads}++;
    return $res;
}

# One GET and its response
sub call {
    my ($self, $host, $path, @headers) = @_;
    $self->send_text(request_text($host, $path, @headers));
    return $self->read_one;
}

sub reads     { $_[0]{reads} }
sub sockport  { $_[0]{sock}->sockport }
sub close     { close $_[0]{sock} }

1;
