/*
 * scoreboard: the shared-memory slots children write and the master reads.
 *
 * Every field is read and written through relaxed atomics: a slot has one
 * writer (its child), the master only needs each value whole, not a
 * consistent picture of the slot, and a lock shared with a child that can be
 * killed at any moment would be a lock that can be left held.
 */
#include <string.h>
#include <sys/mman.h>

#include "db.h"
#include "dbset.h"
#include "log.h"
#include "scoreboard.h"
#include "util.h"

struct sb_slot *
scoreboard_map(size_t n)
{
	void *p;

	if (n == 0)
		n = 1;
	/* Anonymous shared memory is zeroed by the kernel and survives fork()
	 * in both processes: no file, no name, nothing left behind. */
	p = mmap(NULL, n * sizeof(struct sb_slot), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	return p;
}

void
scoreboard_unmap(struct sb_slot *slots, size_t n)
{
	if (slots == NULL)
		return;
	if (n == 0)
		n = 1;
	munmap(slots, n * sizeof(struct sb_slot));
}

struct sb_slot *
scoreboard_private(void)
{
	/* Shared like the others, so a role cannot tell the difference. */
	return scoreboard_map(1);
}

void
scoreboard_heartbeat(struct sb_slot *slot)
{
	double now = time_mono();

	int level;

	if (slot == NULL)
		return;
	__atomic_store(&slot->heartbeat, &now, __ATOMIC_RELAXED);
	level = __atomic_load_n(&slot->log_level, __ATOMIC_RELAXED);
	if (level > 0 && level - 1 != log_get_level())
		log_set_level(level - 1);
}

void
scoreboard_set_log_level(struct sb_slot *slot, int level)
{
	__atomic_store_n(&slot->log_level, level + 1, __ATOMIC_RELAXED);
}

void
scoreboard_state(struct sb_slot *slot, enum sb_state state)
{
	double now = time_mono(), zero = 0;

	if (slot == NULL)
		return;
	/* job_started first: the master judges a hung child by the heartbeat
	 * of a BUSY slot, and must not see BUSY with the previous job's time. */
	if (state == SB_BUSY)
		__atomic_store(&slot->job_started, &now, __ATOMIC_RELAXED);
	else
		__atomic_store(&slot->job_started, &zero, __ATOMIC_RELAXED);
	__atomic_store(&slot->heartbeat, &now, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->state, (int)state, __ATOMIC_RELEASE);
}

/* The database counters are the connections' own totals, stored as they
 * are: this process's connections live as long as it does. */
void
scoreboard_db_host(struct sb_slot *slot, size_t i, int host)
{
	if (slot == NULL || i >= SB_DBS)
		return;
	__atomic_store_n(&slot->db_host[i], (uint8_t)(host < 0 ? 0 : host + 1),
	    __ATOMIC_RELAXED);
}

void
scoreboard_db_totals(struct sb_slot *slot, uint64_t conflicts,
    uint64_t failovers)
{
	if (slot == NULL)
		return;
	__atomic_store_n(&slot->counters[SB_DB_CONFLICTS], conflicts,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&slot->counters[SB_DB_FAILOVERS], failovers,
	    __ATOMIC_RELAXED);
}

void
scoreboard_dbs(struct sb_slot *slot, struct dbset *dbs)
{
	uint64_t conflicts = 0, failovers = 0;
	size_t i;

	if (slot == NULL || dbs == NULL)
		return;
	for (i = 0; i < dbset_count(dbs); i++) {
		struct db *db = dbset_at(dbs, i);

		conflicts += db_conflicts(db);
		failovers += db_failovers(db);
		scoreboard_db_host(slot, i, db_host_index(db));
	}
	scoreboard_db_totals(slot, conflicts, failovers);
}

void
scoreboard_count(struct sb_slot *slot, enum sb_counter c, uint64_t n)
{
	if (slot == NULL || c >= SB_NCOUNTERS)
		return;
	__atomic_fetch_add(&slot->counters[c], n, __ATOMIC_RELAXED);
	scoreboard_heartbeat(slot);
}

static void
store_dbids(uint32_t *slots, const unsigned *dbids, size_t n)
{
	size_t i;

	for (i = 0; i < SB_BROKEN_DBS; i++)
		__atomic_store_n(&slots[i], i < n ? (uint32_t)dbids[i] : 0,
		    __ATOMIC_RELAXED);
}

void
scoreboard_broken_dbs(struct sb_slot *slot, const unsigned *dbids, size_t n)
{
	if (slot != NULL)
		store_dbids(slot->broken_dbs, dbids, n);
}

void
scoreboard_unreachable_dbs(struct sb_slot *slot, const unsigned *dbids,
    size_t n)
{
	if (slot != NULL)
		store_dbids(slot->unreachable_dbs, dbids, n);
}

void
scoreboard_withdrawn(struct sb_slot *slot, int withdrawn)
{
	if (slot != NULL)
		__atomic_store_n(&slot->withdrawn, withdrawn,
		    __ATOMIC_RELAXED);
}

void
scoreboard_read(const struct sb_slot *slot, struct sb_slot *copy)
{
	int i;

	memset(copy, 0, sizeof(*copy));
	copy->state = __atomic_load_n(&slot->state, __ATOMIC_ACQUIRE);
	copy->pid = __atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
	__atomic_load(&slot->started, &copy->started, __ATOMIC_RELAXED);
	__atomic_load(&slot->heartbeat, &copy->heartbeat, __ATOMIC_RELAXED);
	__atomic_load(&slot->job_started, &copy->job_started,
	    __ATOMIC_RELAXED);
	for (i = 0; i < SB_NCOUNTERS; i++)
		copy->counters[i] = __atomic_load_n(&slot->counters[i],
		    __ATOMIC_RELAXED);
	for (i = 0; i < SB_BROKEN_DBS; i++) {
		copy->broken_dbs[i] = __atomic_load_n(&slot->broken_dbs[i],
		    __ATOMIC_RELAXED);
		copy->unreachable_dbs[i] = __atomic_load_n(
		    &slot->unreachable_dbs[i], __ATOMIC_RELAXED);
	}
	copy->withdrawn = __atomic_load_n(&slot->withdrawn, __ATOMIC_RELAXED);
	for (i = 0; i < SB_DBS; i++)
		copy->db_host[i] = __atomic_load_n(&slot->db_host[i],
		    __ATOMIC_RELAXED);
}

const char *
scoreboard_state_name(int state)
{
	switch (state) {
	case SB_FREE:
		return "free";
	case SB_STARTING:
		return "starting";
	case SB_IDLE:
		return "idle";
	case SB_BUSY:
		return "busy";
	case SB_STOPPING:
		return "stopping";
	}
	return "unknown";
}

const char *
scoreboard_counter_name(enum sb_counter c)
{
	static const char *const names[SB_NCOUNTERS] = {
		[SB_JOBS_DONE] = "jobs_done",
		[SB_JOBS_FAILED] = "jobs_failed",
		[SB_JOBS_DISPATCHED] = "jobs_dispatched",
		[SB_JOBS_INJECTED] = "jobs_injected",
		[SB_JOBS_REFUSED] = "jobs_refused",
		[SB_DB_ERRORS] = "db_errors",
		[SB_GEARMAN_ERRORS] = "gearman_errors",
		[SB_DB_CONFLICTS] = "db_conflicts",
		[SB_DB_FAILOVERS] = "db_failovers",
		[SB_JOBS_UNTAKEN] = "jobs_untaken",
	};

	if ((unsigned)c >= SB_NCOUNTERS)
		return "unknown";
	return names[c];
}
