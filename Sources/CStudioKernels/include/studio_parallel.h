// A fork-join pool for short, back-to-back parallel loops (the convolutions of one network pass,
// each a fraction of a millisecond). Its workers spin for a moment after each loop before they
// sleep, so the next loop finds them awake: waking a sleeping thread costs tens of microseconds,
// more on a virtual machine whose idle vCPU has halted, which is as long as a small layer runs.
#ifndef STUDIO_PARALLEL_H
#define STUDIO_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

/// One part of a parallel loop: `part` in 0 ..< parts.
typedef void (*studio_part_fn)(void *context, int part);

/// Runs `fn(context, p)` for every p in 0 ..< parts and returns when all have finished. The calling
/// thread runs parts too; at most `parts - 1` pool threads join it (started on first need, at most
/// 63). Parts run in no fixed order or thread. When the pool is busy with another caller's loop (two
/// threads running loops at once, or a loop started from inside a part), this call runs its parts
/// one after another on the calling thread instead: never a deadlock, never a wait for the pool.
void studio_parallel_for(int parts, studio_part_fn fn, void *context);

/// Threads the pool has started so far (for tests).
int studio_parallel_workers(void);

#ifdef __cplusplus
}
#endif

#endif
