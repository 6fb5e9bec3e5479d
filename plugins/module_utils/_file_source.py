# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a file source (a pushed virtual.txt, a list, a CSV, a map source) into a collector.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv

# File sources. Each reader yields (source, value) pairs; ``name`` labels the
# source as ``name:line``. Only line endings are stripped: stray whitespace in a
# value is reported as a refusal, exactly as it would be from LDAP.

FILE_BATCH = 4096


def _lines(stream):
    """(line number, line without its end) of every line that is neither blank nor a comment."""
    for number, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def _batches(lines, name):
    """Cut (number, value) pairs into (values, source_at) batches; sources are ``name:line``."""
    numbers, values = [], []
    for number, value in lines:
        numbers.append(number)
        values.append(value)
        if len(values) >= FILE_BATCH:
            yield values, _line_source(name, numbers)
            numbers, values = [], []
    if values:
        yield values, _line_source(name, numbers)


def _line_source(name, numbers):
    return lambda index: "%s:%d" % (name, numbers[index])


def read_virtual(stream, name, collector):
    """Legacy ``virtual.txt``: ``alias: TYPE:address`` per line."""
    numbers, values = [], []
    for number, line in _lines(stream):
        alias, sep, value = line.partition(":")
        well_formed = sep and alias.strip()
        if well_formed:
            numbers.append(number)
            values.append(value.lstrip(" \t"))
            if len(values) < FILE_BATCH:
                continue
        # A full batch, or a malformed line: the lines before it go first, so
        # that refusals keep the order of the file.
        collector.add_typed_batch(values, _line_source(name, numbers))
        numbers, values = [], []
        if not well_formed:
            collector.refuse("%s:%d" % (name, number), line, "not an 'alias: TYPE:address' line")
    collector.add_typed_batch(values, _line_source(name, numbers))


def read_list(stream, name, collector):
    """One bare address per line."""
    for batch, source_at in _batches(_lines(stream), name):
        collector.add_plain_batch(batch, source_at)


def read_csv(stream, name, collector, column):
    """A CSV file with a header row; addresses are taken from ``column``."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise ValueError("%s: no column %r in the CSV header %r" % (name, column, reader.fieldnames))
    for row in reader:
        value = row[column]
        if value:
            collector.add_plain(value, "%s:%d" % (name, reader.line_num))


def read_map(stream, name, collector):
    """A Postfix map source such as this module writes (``address<TAB>OK``):
    the key is the first field, the value is not used."""
    keys = ((number, line.split(None, 1)[0]) for number, line in _lines(stream))
    for batch, source_at in _batches(keys, name):
        collector.add_plain_batch(batch, source_at)


FILE_READERS = {"virtual": read_virtual, "list": read_list, "csv": read_csv, "map": read_map}


def read_file_source(path, file_format, collector, csv_column=None, name=None):
    """Read a file source into ``collector``; refusals name it ``name`` (default: ``path``).
    Undecodable bytes become U+FFFD, which the validation refuses as non-ASCII."""
    name = name or path
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
        if file_format == "csv":
            read_csv(stream, name, collector, csv_column)
        else:
            FILE_READERS[file_format](stream, name, collector)
