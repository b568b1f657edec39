// The fork-join pool of studio_parallel.h.
//
// One loop runs at a time. Its state is one 64-bit word: the loop's generation (24 bits), its part
// count (20 bits) and the next unclaimed part (20 bits). A thread claims a part by a compare-and-swap
// that fails if the generation has moved on, so a late worker can never take a part of the next loop
// with the previous loop's function. The caller publishes a loop only after every part of the last
// one has finished, so the function and context a claimed part reads are that loop's.
#include "studio_parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPIN_PAUSE() _mm_pause()
#else
#define SPIN_PAUSE() ((void)0)
#endif

enum { MAX_WORKERS = 63, SPIN_NANOSECONDS = 200000 };

#define GEN_SHIFT 40
#define PARTS_SHIFT 20
#define FIELD_MASK ((1ull << 20) - 1)

static pthread_mutex_t submit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static _Atomic uint64_t state;       // generation | parts | next
static _Atomic int finished;         // parts of the current loop that have finished
static _Atomic int sleepers;         // workers waiting on `wake`
static _Atomic int workers;          // threads started
static studio_part_fn job_fn;        // written by the submitter before it publishes `state`
static void *job_context;

static uint64_t generation_of(uint64_t s) { return s >> GEN_SHIFT; }

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/// Claims and runs parts of generation `gen` until none is left. Returns when it can claim no more.
static void run_parts(uint64_t gen) {
    uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
    for (;;) {
        uint64_t parts = (s >> PARTS_SHIFT) & FIELD_MASK, next = s & FIELD_MASK;
        if (generation_of(s) != gen || next >= parts) return;
        if (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acq_rel, memory_order_acquire)) continue;
        job_fn(job_context, (int)next);
        atomic_fetch_add_explicit(&finished, 1, memory_order_release);
        s = atomic_load_explicit(&state, memory_order_acquire);
    }
}

/// Waits until the generation differs from `seen`: spinning first, then asleep.
static uint64_t await_generation(uint64_t seen) {
    long long deadline = now_ns() + SPIN_NANOSECONDS;
    for (int i = 0;; i++) {
        uint64_t g = generation_of(atomic_load_explicit(&state, memory_order_acquire));
        if (g != seen) return g;
        SPIN_PAUSE();
        if ((i & 255) == 255 && now_ns() > deadline) break;
    }
    pthread_mutex_lock(&sleep_lock);
    atomic_fetch_add(&sleepers, 1);
    uint64_t g;
    while ((g = generation_of(atomic_load(&state))) == seen) pthread_cond_wait(&wake, &sleep_lock);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&sleep_lock);
    return g;
}

static void *worker_main(void *unused) {
    (void)unused;
    uint64_t seen = generation_of(atomic_load(&state));
    for (;;) {
        seen = await_generation(seen);
        run_parts(seen);
    }
    return NULL;
}

/// Starts threads until `wanted` run (or MAX_WORKERS). Called with submit_lock held.
static void ensure_workers(int wanted) {
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    while (atomic_load(&workers) < wanted) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, worker_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0) return;   // fewer threads: the caller's loop still completes, on fewer of them
        atomic_fetch_add(&workers, 1);
    }
}

static void run_serially(int parts, studio_part_fn fn, void *context) {
    for (int p = 0; p < parts; p++) fn(context, p);
}

void studio_parallel_for(int parts, studio_part_fn fn, void *context) {
    if (parts <= 0) return;
    if (parts == 1 || (uint64_t)parts > FIELD_MASK || pthread_mutex_trylock(&submit_lock) != 0) {
        run_serially(parts, fn, context);
        return;
    }
    ensure_workers(parts - 1);
    job_fn = fn;
    job_context = context;
    atomic_store_explicit(&finished, 0, memory_order_relaxed);
    uint64_t gen = (generation_of(atomic_load(&state)) + 1) & ((1ull << 24) - 1);
    atomic_store(&state, (gen << GEN_SHIFT) | ((uint64_t)parts << PARTS_SHIFT));
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    run_parts(gen);
    while (atomic_load_explicit(&finished, memory_order_acquire) < parts) SPIN_PAUSE();
    pthread_mutex_unlock(&submit_lock);
}

int studio_parallel_workers(void) { return atomic_load(&workers); }
