/*
 * funcstats: an open-addressing table (linear probing, FNV-1a) in shared
 * memory, at least twice as many places as functions so that probes stay
 * short and a free place always remains: the number of places claimed is
 * reserved first (claimed < cap, by compare-and-swap), then a place.
 *
 * A name's first entry is always found before any EMPTY place on its probe
 * path: places are never emptied again, so every place passed over when it
 * was claimed is still taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "funcstats.h"
#include "util.h"

enum {
	FS_EMPTY = 0,
	FS_CLAIMING,          /* its claimer is writing the name */
	FS_READY,             /* name and hash written, never to change */
};

struct fs_entry {
	uint32_t state;
	uint32_t hash;
	char name[GV_FUNCNAME_MAX + 1];
	uint64_t counters[METRICS_NCOUNTERS];
	uint64_t buckets[METRICS_NBUCKETS];
	uint64_t latency_us;
};

struct funcstats {
	uint32_t cap;         /* functions with a label of their own */
	uint32_t nplaces;     /* a power of two, >= 2 * cap */
	uint32_t claimed;     /* places reserved so far, at most cap */
	size_t size;          /* bytes mapped */
	struct fs_entry other;
	struct fs_entry places[];
};

static struct funcstats *current;

struct funcstats *
funcstats_map(unsigned cap)
{
	struct funcstats *t;
	uint32_t nplaces = 2;
	size_t size;
	void *p;

	if (cap == 0)
		cap = 1;
	while (nplaces < 2 * cap)
		nplaces *= 2;
	size = sizeof(*t) + nplaces * sizeof(struct fs_entry);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	t = p;
	t->cap = cap;
	t->nplaces = nplaces;
	t->size = size;
	snprintf(t->other.name, sizeof(t->other.name), "%s", METRICS_OTHER);
	current = t;
	return t;
}

void
funcstats_unmap(struct funcstats *t)
{
	if (t == NULL)
		return;
	if (current == t)
		current = NULL;
	munmap(t, t->size);
}

struct funcstats *
funcstats_current(void)
{
	return current;
}

/* One more function, if the cap allows. */
static int
reserve(struct funcstats *t)
{
	uint32_t n = __atomic_load_n(&t->claimed, __ATOMIC_RELAXED);

	do {
		if (n >= t->cap)
			return 0;
	} while (!__atomic_compare_exchange_n(&t->claimed, &n, n + 1, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 1;
}

struct fs_entry *
funcstats_find(struct funcstats *t, const char *funcname)
{
	uint32_t mask, hash, i, state, probes;
	struct fs_entry *e;

	if (t == NULL)
		return NULL;
	if (!metrics_name_ok(funcname))
		return &t->other;
	mask = t->nplaces - 1;
	hash = (uint32_t)hash_fnv1a(HASH_SEED, funcname, strlen(funcname));
	i = hash & mask;
	for (probes = 0; probes < t->nplaces; ) {
		e = &t->places[i];
		state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
		if (state == FS_READY && e->hash == hash &&
		    strcmp(e->name, funcname) == 0)
			return e;
		if (state != FS_EMPTY) {
			i = (i + 1) & mask;
			probes++;
			continue;
		}
		/* Not in the table: claim this place. */
		if (!reserve(t))
			return &t->other;
		if (__atomic_compare_exchange_n(&e->state, &state,
		    FS_CLAIMING, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
			e->hash = hash;
			memcpy(e->name, funcname, strlen(funcname) + 1);
			__atomic_store_n(&e->state, FS_READY,
			    __ATOMIC_RELEASE);
			return e;
		}
		/* Taken under us: give the reservation back and look at the
		 * place again, it may be this very name. */
		__atomic_fetch_sub(&t->claimed, 1, __ATOMIC_RELAXED);
	}
	return &t->other;
}

void
funcstats_add(struct fs_entry *e, enum metrics_counter c, uint64_t n)
{
	if (e == NULL || (unsigned)c >= METRICS_NCOUNTERS)
		return;
	__atomic_fetch_add(&e->counters[c], n, __ATOMIC_RELAXED);
}

void
funcstats_latency(struct fs_entry *e, double seconds)
{
	if (e == NULL)
		return;
	/* Clocks apart (the database's and ours) must not make it < 0. */
	if (!(seconds > 0))
		seconds = 0;
	__atomic_fetch_add(&e->buckets[metrics_bucket(seconds)], 1,
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->latency_us, (uint64_t)(seconds * 1e6 + 0.5),
	    __ATOMIC_RELAXED);
}

void
funcstats_count(struct funcstats *t, const char *funcname,
    enum metrics_counter c, uint64_t n)
{
	if (t != NULL && n > 0)
		funcstats_add(funcstats_find(t, funcname), c, n);
}

static void
copy_entry(const struct fs_entry *e, struct metrics_func *f)
{
	int i;

	for (i = 0; i < METRICS_NCOUNTERS; i++)
		f->counters[i] = __atomic_load_n(&e->counters[i],
		    __ATOMIC_RELAXED);
	for (i = 0; i < METRICS_NBUCKETS; i++)
		f->buckets[i] = __atomic_load_n(&e->buckets[i],
		    __ATOMIC_RELAXED);
	f->latency_us = __atomic_load_n(&e->latency_us, __ATOMIC_RELAXED);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct metrics_func *)a)->name,
	    ((const struct metrics_func *)b)->name);
}

static int
counted(const struct metrics_func *f)
{
	static const struct metrics_func zero;

	return memcmp(f->counters, zero.counters, sizeof(zero.counters)) ||
	    memcmp(f->buckets, zero.buckets, sizeof(zero.buckets));
}

int
funcstats_read(const struct funcstats *t, struct metrics_func **out,
    size_t *n)
{
	struct metrics_func *f;
	size_t k = 0, m, i;

	*out = NULL;
	*n = 0;
	if (t == NULL)
		return 0;
	if ((f = calloc(t->nplaces + 1, sizeof(*f))) == NULL)
		return -1;
	for (i = 0; i < t->nplaces; i++) {
		const struct fs_entry *e = &t->places[i];

		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != FS_READY)
			continue;
		memcpy(f[k].name, e->name, sizeof(f[k].name));
		copy_entry(e, &f[k++]);
	}
	qsort(f, k, sizeof(*f), by_name);
	/* Entries of one name (claimed at the same moment) as one. */
	for (i = 0, m = 0; i < k; i++) {
		if (m > 0 && strcmp(f[m - 1].name, f[i].name) == 0)
			metrics_add(&f[m - 1], &f[i]);
		else if (m++ != i)
			f[m - 1] = f[i];
	}
	memcpy(f[m].name, t->other.name, sizeof(f[m].name));
	copy_entry(&t->other, &f[m]);
	if (counted(&f[m]))
		m++;
	*out = f;
	*n = m;
	return 0;
}
