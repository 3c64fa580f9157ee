package EntraPorts;
# Ports for a run of the suite, held rather than found by bind-then-close
# (a port found free and closed again is free for a parallel run too).
#
# The mock Entra and its echo backend take sockets t/TEST binds and hands
# over open (mock_entra.py --fd): held from the start.  httpd, redis-server
# and memcached bind their ports themselves and cannot report a port the
# system picked for them (httpd's Listen, Redis' and memcached's port), so
# for them each run of t/TEST holds a block of BLOCK ports:
#
#   - an flock on $ENTRA_PORT_DIR/block.<n> (taken with LOCK_NB, the first
#     free block wins), held by t/TEST for the whole run; the kernel lets it
#     go however the run ends, so no lock is ever left stale;
#   - the blocks lie below the kernel's ephemeral range (32768 upwards by
#     default), which connect() and bind(port 0) never hand out: only a
#     program that binds such a port by number can take one, and every port
#     is checked with a bind before it is handed out to make sure of that;
#   - inside the block: Apache::Test's ports from the base (APACHE_TEST_PORT;
#     it numbers its 100-odd virtual hosts upwards from there), the stores'
#     from base + STORES, and the private servers that the .t files start
#     (EntraStores::start_apache) from base + PRIVATE, each of these held
#     with an flock of its own (port.<p>) for as long as its test holds it.
#
# Two runs therefore never share a port, whatever the order they start in.
use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Fcntl qw(:flock O_RDONLY O_CREAT);
use IO::Socket::INET;

our @EXPORT_OK = qw(hold_block hold_port release_port port_block);

use constant {
    FIRST   => 20000,    # the first block's base
    BLOCK   => 400,      # ports a run holds
    BLOCKS  => 30,       # 20000 .. 31999, below the ephemeral range
    STORES  => 300,      # base + 300 ..: redis, memcached and the test's own Redis ports
    PRIVATE => 340,      # base + 340 .. base + 399: private servers of the .t files
};

sub _dir {
    my $dir = $ENV{ENTRA_PORT_DIR} || '/tmp/entra-test-ports';
    unless (-d $dir) {
        mkdir $dir;                       # a parallel run may win this race: fine
        chmod 01777, $dir;                # shared by every user that runs the suite
    }
    -d $dir or croak "EntraPorts: cannot make $dir: $!";
    return $dir;
}

# An flock on $dir/$name without waiting: the open handle (the lock lasts
# as long as it stays open) or undef when someone else holds it.
sub _lock {
    my $name = shift;
    my $file = _dir() . "/$name";
    # open first without O_CREAT: in a sticky directory the kernel refuses
    # O_CREAT on another user's file (fs.protected_regular)
    my $fh;
    unless (sysopen($fh, $file, O_RDONLY)) {
        my $old = umask 0;
        my $ok = sysopen($fh, $file, O_RDONLY | O_CREAT, 0644) || sysopen($fh, $file, O_RDONLY);
        umask $old;
        $ok or croak "EntraPorts: $file: $!";
    }
    return flock($fh, LOCK_EX | LOCK_NB) ? $fh : undef;
}

# Nothing (that we can see) listens on or is bound to 127.0.0.1:$port
sub _bindable {
    my $port = shift;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1) or return 0;
    close $s;
    return 1;
}

my %held;    # name => handle, for as long as this process holds it

# t/TEST: holds a free block for this process' life; returns its base port
# (also put in $ENV{ENTRA_PORT_BLOCK} for the .t files).
sub hold_block {
    my @order = map { ($_ + $$) % BLOCKS } 0 .. BLOCKS - 1;    # runs spread out
    for my $n (@order) {
        my $fh = _lock("block.$n") or next;
        $held{"block.$n"} = $fh;
        my $base = FIRST + $n * BLOCK;
        $ENV{ENTRA_PORT_BLOCK} = $base;
        return $base;
    }
    croak 'EntraPorts: all ' . BLOCKS . ' port blocks are held by other runs';
}

# The base of the block this run holds (t/TEST took it)
sub port_block {
    return $ENV{ENTRA_PORT_BLOCK} || croak 'ENTRA_PORT_BLOCK is not set (run through t/TEST)';
}

# A port of this run's block in the area `stores` or `private`, held (an
# flock of its own) until release_port or the end of this process, and
# checked free; not one of @avoid.
sub hold_port {
    my ($area, @avoid) = @_;
    my %avoid = map { $_ => 1 } @avoid;
    my ($from, $to) = $area eq 'stores' ? (STORES, PRIVATE - 1)
                    : $area eq 'private' ? (PRIVATE, BLOCK - 1)
                    : croak "EntraPorts: no area $area";
    my $base = port_block();
    for my $port (map { $base + $_ } $from .. $to) {
        next if $avoid{$port} || $held{"port.$port"};
        my $fh = _lock("port.$port") or next;
        unless (_bindable($port)) {
            close $fh;
            next;
        }
        $held{"port.$port"} = $fh;
        return $port;
    }
    croak "EntraPorts: no free port in the $area area of block $base";
}

sub release_port {
    my $port = shift;
    my $fh = delete $held{"port.$port"} or return;
    close $fh;
}

1;
