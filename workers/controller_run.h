/*
 * controller_run: a Controller's slot runs its job on gearmand and says
 * how the run ended (controller_run.c), which the slot then records in the
 * job's row (controller.c settle).
 */
#ifndef CONTROLLER_RUN_H
#define CONTROLLER_RUN_H

struct slot;

/* How a run ended. */
enum outcome {
	RUN_DONE,       /* WORK_COMPLETE */
	RUN_FAILED,     /* WORK_FAIL or WORK_EXCEPTION */
	RUN_TIMEOUT,    /* no answer within job_timeout */
	RUN_LOST,       /* gearmand took the job, then the connection failed */
	RUN_UNSENT,     /* no gearmand took the job */
	RUN_ABANDONED,  /* stopping, and no worker had started it */
	RUN_UNTAKEN,    /* no worker started it within job_timeout */
	RUN_ORPHANED,   /* a worker took it just as it was taken back: its
	                   result cannot come back; its lease ends the run */
	RUN_UNKNOWN,    /* gearmand could not say whether a worker has it:
	                   left to its lease */
	RUN_UNACKED,    /* gearmand never acknowledged the submission */
	RUN_RESULT,     /* (take_back) its result came first: read it */
	RUN_WAITING,    /* (run_on) nothing decided yet */
};

/* Run the slot's job (sl->job, its document sl->doc) on its gearmand and
 * wait for its result. Never RUN_RESULT or RUN_WAITING. Why it ended is
 * left in sl->message (the worker's reason for a failure), sl->untaken
 * (RUN_UNTAKEN) or sl->err (gearmand's trouble). */
enum outcome controller_run(struct slot *sl);
/* Close the slot's connections to gearmand (a job it submitted and no
 * worker took goes with them). */
void controller_run_drop_clients(struct slot *sl);

#endif
