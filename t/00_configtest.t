# A bad configuration stops `apache2 -t` (configtest) with a message naming
# the directive.  Each t/conf/bad/*.conf is a small complete config; its
# "# EXPECT: <directive>" line says which directive the message must name.
# good.conf is the control: the same frame with nothing wrong passes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Spec;
use Cwd qw(abs_path);
use Apache::Test ();

my $cfg   = Apache::Test::config();
my $vars  = $cfg->{vars};
my $t_dir = abs_path($vars->{t_dir});
my $httpd = $vars->{httpd} or plan skip_all => 'no httpd binary known to Apache::Test';
my $so    = abs_path(File::Spec->catfile($t_dir, '..', '.libs', 'mod_auth_entra.so'));
plan skip_all => 'module not built' unless $so && -f $so;
my $moddir = $cfg->apxs('LIBEXECDIR') || '/usr/lib/apache2/modules';

local $ENV{ENTRA_T_DIR}         = $t_dir;
local $ENV{ENTRA_BAD_DIR}       = "$t_dir/conf/bad";
local $ENV{ENTRA_MODULE_SO}     = $so;
local $ENV{ENTRA_HTTPD_MODULES} = $moddir;

sub configtest {
    my $file = shift;
    my $out = `'$httpd' -t -f '$file' 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = configtest("$t_dir/conf/bad/good.conf");
is($rc, 0, 'good.conf: configtest passes') or diag($out);
like($out, qr/Syntax OK/, 'good.conf: Syntax OK');

# good.conf (EntraCookieSecure Off over http) gets no warning; the default On over
# plain http passes with a warning naming where
unlike($out, qr/ENTRA00113/, 'good.conf: no warning about Secure cookies over http');
($rc, $out) = configtest("$t_dir/conf/warn/secure_over_http.conf");
is($rc, 0, 'secure_over_http.conf: configtest passes (a proxy in front may speak https)') or diag($out);
like($out, qr/ENTRA00113: \S*secure_over_http\.conf:5: EntraCookieSecure On, but this virtual host does not turn on TLS/,
     '... with a warning naming the virtual host\'s file and line') or diag($out);

# a secret file that exists but cannot be read (root reads anything: skip then)
my $unreadable = "$t_dir/logs/unreadable_secret.txt";
unlink $unreadable;
if (open my $u, '>', $unreadable) { print $u "unreadable-secret-value\n"; close $u; chmod 0000, $unreadable }

my @bad = sort grep { !/good\.conf$/ } glob "$t_dir/conf/bad/*.conf";
@bad = grep { !/unreadable_secret_mode\.conf$/ } @bad if $> == 0;
ok(@bad >= 4, 'bad configurations to check: ' . scalar @bad);
for my $file (@bad) {
    my $name = (File::Spec->splitpath($file))[2];
    open my $fh, '<', $file or die "$file: $!";
    my ($expect) = map { /^#\s*EXPECT:\s*(\S+)/ ? $1 : () } <$fh>;
    close $fh;
    ok($expect, "$name: says which directive it breaks") or next;
    ($rc, $out) = configtest($file);
    isnt($rc, 0, "$name: configtest fails");
    unlike($out, qr/Syntax OK/, "$name: no Syntax OK");
    unlike($out, qr/Invalid command/i, "$name: the directive exists (not 'Invalid command')");
    like($out, qr/\Q$expect\E/, "$name: the message names $expect") or diag($out);
    unlike($out, qr/Segmentation|core dumped|Aborted/i, "$name: no crash");
}

unlink $unreadable;
done_testing();
