/* heap: how the process's memory is laid out, decided once at the start
 * of main() by the programs that hold an engine (deconflict serve, the
 * in-process benchmarks). Not part of the engine, which has no process
 * state of its own. */
#ifndef DC_HEAP_H
#define DC_HEAP_H

/* heap_use_hugepages asks glibc to back its heap with transparent huge
 * pages (the glibc.malloc.hugetlb=1 tunable), which it reads only when a
 * program starts: so, unless the tunable is already set, it sets it and
 * starts the program again in place (execv of the program's own file,
 * found through /proc/self/exe, with the same argv). Call it first in
 * main(), before any thread, open file or output.
 *
 * Why: the engine is a graph of small objects (units, their neighbour
 * lists and witnesses, volumes, conflicts) that a report reaches one
 * pointer at a time, at random across hundreds of MB. With 4 KB pages
 * most of those reads also miss the TLB, and the page walk is a second
 * wait. Measured on 2026-12-07 with bench_engine, runs alternating:
 *  - A (100k units): 786 ns per report (median of 5) with 4 KB pages,
 *    696 with huge pages; faster in 4 pairs of 5;
 *  - C, cost per report at 1M units over 10k units: 1.67 and 1.50 with
 *    4 KB pages, 1.12 and 1.03 with huge pages (the TLB misses grew with
 *    the number of objects; the work per report did not);
 *  - resident memory per unit (M): 193 bytes, and 184 with huge pages.
 * The heap's pages come from the kernel's transparent huge pages in
 * "madvise" mode; where the kernel has them off, nothing changes.
 *
 * Returns when it did not restart the program: the tunable was set
 * already, DECONFLICT_HUGEPAGES=0 turns it off, or execv failed (no
 * /proc): the program then runs with ordinary pages, correctly. */
void heap_use_hugepages(char **argv);

#endif
