#!/usr/bin/perl
# Stamp packets in the guest (perl-base only: the image has no Python).
# The test program tests/integration/programs/order_stamp.bpf.c writes its id
# into the first zero slot of a UDP payload "L3AF" + 8 slots; the ids a
# packet carries are the order the programs ran in.
#
#   stamp.pl send DST COUNT             raw UDP to DST:7777, checksum 0 (none:
#                                       the programs rewrite the payload)
#   stamp.pl receive ADDR COUNT SECS    prints "listening" once bound, then the
#                                       ids of each packet, e.g. "2 1"
use strict;
use warnings;
use Socket qw(PF_INET SOCK_RAW SOCK_DGRAM inet_aton sockaddr_in);

my $port = 7777;
my $cmd = shift // '';
if ($cmd eq 'send') {
    my ($dst, $count) = @ARGV;
    socket(my $s, PF_INET, SOCK_RAW, 17) or die "raw socket: $!\n";
    my $payload = 'L3AF' . ("\0" x 8);
    my $udp = pack('nnnn', 47777, $port, 8 + length($payload), 0) . $payload;
    for (1 .. $count) {
        send($s, $udp, 0, sockaddr_in(0, inet_aton($dst))) or die "send: $!\n";
        select(undef, undef, undef, 0.02);
    }
} elsif ($cmd eq 'receive') {
    my ($addr, $count, $secs) = @ARGV;
    socket(my $r, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
    bind($r, sockaddr_in($port, inet_aton($addr))) or die "bind $addr:$port: $!\n";
    $| = 1;
    print "listening\n";
    my $got = 0;
    my $rin = '';
    vec($rin, fileno($r), 1) = 1;
    while ($got < $count) {
        last unless select(my $rout = $rin, undef, undef, $secs) > 0;
        defined(recv($r, my $buf, 2048, 0)) or die "recv: $!\n";
        next unless substr($buf, 0, 4) eq 'L3AF';
        print join(' ', grep { $_ } unpack('C8', substr($buf, 4, 8))), "\n";
        $got++;
    }
    exit($got == $count ? 0 : 1);
} else {
    die "usage: stamp.pl send DST COUNT | receive ADDR COUNT SECS\n";
}
