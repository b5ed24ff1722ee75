/*
 * stub_roles: weak stand-ins for the three role mains, so the master and
 * its tests work before (and independently of) the real roles. A real role's
 * strong definition replaces its stub at link time.
 *
 * A stub is the smallest well-behaved role: idle, beating its heartbeat,
 * stopping when asked.
 */
#include <sysexits.h>

#include "role.h"
#include "scoreboard.h"
#include "util.h"

static int
stub_main(struct role_ctx *ctx)
{
	scoreboard_state(ctx->sb, SB_IDLE);
	while (!*ctx->stop) {
		scoreboard_heartbeat(ctx->sb);
		time_sleep(0.1, ctx->stop);
	}
	return EX_OK;
}

__attribute__((weak)) int
queue_runner_main(struct role_ctx *ctx)
{
	return stub_main(ctx);
}

__attribute__((weak)) int
injector_main(struct role_ctx *ctx)
{
	return stub_main(ctx);
}

__attribute__((weak)) int
controller_main(struct role_ctx *ctx)
{
	return stub_main(ctx);
}
