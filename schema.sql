-- Garivini job table.
--
-- Compatible with the original Perl Garivini: the same columns with the same
-- types, UNIQUE(funcname, uniqkey), so the original Garivini::Client SQL still
-- works. Added columns have defaults, so the original INSERT leaves them valid.
--
--   run_after  unix time when the job is due; QueueRunners claim due rows and
--              move run_after forward by lease_seconds while the job is out.
--              2147483647 means never (parked: failed too often, or
--              rescheduled with "never").
--   attempt    fencing token, incremented by every claim. A completion or
--              reschedule names the attempt it belongs to, so a late answer
--              from an old attempt cannot delete or move a newer one.
--   funcname, uniqkey  compared byte for byte (utf8mb4_bin), as gearmand
--              compares function names and as the unique key's database is
--              chosen: with a case-insensitive collation "Resize" would be
--              a duplicate of "resize" and never run.
--   leased     1 while the job is out (dispatched; run_after is the end of
--              its lease), 0 when run_after is a due time. Only tells
--              operators "in flight" from "scheduled"; nothing depends on it.
--   priority   -10 (lowest) to 10 (highest), 0 by default: within one
--              function, due jobs of a higher priority are claimed first,
--              and gearmand queues them at high (> 0), normal (0) or low
--              (< 0) priority. Across functions claims stay fair whatever
--              the priorities.
--
-- The func_due index (InnoDB appends the primary key, so it is really
-- (funcname, priority, run_after, jobid)) serves the claims, which are per
-- function and priority so that no function's backlog holds up another's:
--   SELECT funcname, priority, MIN(run_after) ... GROUP BY funcname,
--       priority  (a loose index scan: one dive per function and priority,
--       whatever its rows)
--   WHERE funcname = ? AND priority = ? AND run_after <= UNIX_TIMESTAMP()
--       ORDER BY run_after, jobid LIMIT n
-- The run_after index serves gvctl's lists in due order.
CREATE TABLE IF NOT EXISTS `job` (
    `jobid`       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    `funcname`    VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
                  NOT NULL,
    `arg`         MEDIUMBLOB,
    `uniqkey`     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
                  NULL,
    `run_after`   INT UNSIGNED NOT NULL,
    `coalesce`    VARCHAR(255) NULL,
    `flag`        ENUM('controller', 'shim') DEFAULT 'shim',
    `failcount`   TINYINT UNSIGNED NOT NULL DEFAULT '0',
    `attempt`     INT UNSIGNED NOT NULL DEFAULT '0',
    `leased`      TINYINT UNSIGNED NOT NULL DEFAULT '0',
    `priority`    TINYINT NOT NULL DEFAULT '0',
    PRIMARY KEY (`jobid`),
    INDEX `run_after` (`run_after`),
    INDEX `func_due` (`funcname`, `priority`, `run_after`),
    UNIQUE `funcname` (`funcname`, `uniqkey`)
) ENGINE=InnoDB;

-- Why jobs failed: each failure of a job, newest GV_ERRORS_KEPT (10) kept,
-- written in the failure's own transaction and deleted once its job's row
-- is gone (completed, cancelled, deleted). The job table and the
-- original's SQL are unchanged; the original's clients simply write none.
--   attempt, failcount  the row's, as the failure left them
--   error_time          unix time of the failure (the database's clock)
--   message             the reason: the worker's exception or warning text,
--                       "timed out after N s", or empty when none was
--                       given; UTF-8, at most 2000 bytes
-- jobid_errors serves a job's failures and the pruning; func_errors the
-- newest failures of a function (gvctl errors).
CREATE TABLE IF NOT EXISTS `job_error` (
    `errorid`     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    `jobid`       BIGINT UNSIGNED NOT NULL,
    `attempt`     INT UNSIGNED NOT NULL,
    `funcname`    VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
                  NOT NULL,
    `failcount`   TINYINT UNSIGNED NOT NULL,
    `error_time`  INT UNSIGNED NOT NULL,
    `message`     TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (`errorid`),
    INDEX `jobid_errors` (`jobid`, `errorid`),
    INDEX `func_errors` (`funcname`, `errorid`)
) ENGINE=InnoDB;

-- What became of a job that ended (libgarivini's gv_job_status, gvctl show,
-- the job_status function): one row per job, written in the same
-- transaction as the DELETE that ended it, so a job is never gone without
-- its record nor recorded while its row lives. A parked job keeps its row
-- (run_after 2147483647), which is its record. The job table and the
-- original's SQL are unchanged: a foreign worker that completes with its
-- own DELETE leaves no record.
--   outcome     done (completed), cancelled (cancel_jobs, gv_cancel_job,
--               gvctl cancel) or deleted (gvctl delete)
--   ended       unix time of the end (the database's clock)
--   attempt, failcount  the row's when it ended
--   keep_until  ended + the function's keep_done (at least its unique_for
--               for a done job): pruned after that, in small batches
--   result      a done job's result as its worker gave it, at most
--               GV_RESULT_MAX (65535) bytes; result_cut 1 when it was
--               longer and cut there
-- func_key serves the questions by unique key and the unique windows,
-- keep_until the pruning.
CREATE TABLE IF NOT EXISTS `job_outcome` (
    `jobid`       BIGINT UNSIGNED NOT NULL,
    `funcname`    VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
                  NOT NULL,
    `uniqkey`     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
                  NULL,
    `outcome`     ENUM('done', 'cancelled', 'deleted') NOT NULL,
    `ended`       INT UNSIGNED NOT NULL,
    `attempt`     INT UNSIGNED NOT NULL,
    `failcount`   TINYINT UNSIGNED NOT NULL,
    `keep_until`  INT UNSIGNED NOT NULL,
    `result`      BLOB NULL,
    `result_cut`  TINYINT UNSIGNED NOT NULL DEFAULT '0',
    PRIMARY KEY (`jobid`),
    INDEX `func_key` (`funcname`, `uniqkey`, `ended`),
    INDEX `keep_until` (`keep_until`)
) ENGINE=InnoDB;

-- The state of each [schedule.NAME] of garivini.ini whose jobs live in this
-- database: last_slot is the last slot (unix time) accounted for, a job
-- inserted for it or, for slots missed, passed over. A completed job's row
-- is deleted, so only this row remembers that a slot was done. An inserter
-- locks the row, inserts the job for the slot due and advances last_slot in
-- one transaction (workers/scheduler.c), so each slot is inserted once
-- whatever the number of masters. Upgrading a database made before
-- schedules: this statement alone (doc/schema.md, "Upgrading a database").
CREATE TABLE IF NOT EXISTS `schedule_state` (
    `name`        VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    `last_slot`   BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (`name`)
) ENGINE=InnoDB;
