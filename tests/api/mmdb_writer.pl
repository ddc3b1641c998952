#!/usr/bin/perl
# Writes a tiny MaxMind DB (.mmdb) for the tests: `perl mmdb_writer.pl OUT < spec.json`.
# spec: {"database_type": "...", "types": {"key": "utf8_string" | "uint32" | "double" | "map", ...},
#        "networks": [["203.0.113.0/24", {...record...}], ...]}
# Uses Debian's libmaxmind-db-writer-perl (MaxMind's own writer). Reserved and private
# networks are kept: the tests use documentation and lab addresses.
use strict;
use warnings;
use JSON::PP;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: mmdb_writer.pl OUT < spec.json\n";
my $spec = decode_json(do { local $/; <STDIN> });
my %types = %{ $spec->{types} };
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => $spec->{database_type},
    languages                => ['en'],
    description              => { en => 'StreamSwarm test database' },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
    map_key_type_callback    => sub { $types{ $_[0] } or die "no type for key $_[0]\n" },
);
for my $n (@{ $spec->{networks} }) {
    my ($cidr, $record) = @$n;
    # JSON numbers that must be doubles stay doubles for the writer.
    $tree->insert_network($cidr, $record);
}
open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh or die "cannot close $out: $!\n";
