// stall: how late does a thread on one CPU wake up, with no DNS software involved?
//
// Pinned to CPU, as SCHED_FIFO priority 1 when allowed (so no ordinary task of this machine
// can delay it; else at normal priority, and other tasks' time counts too), it repeats for SECS
// seconds: spin ON_MS reading CLOCK_MONOTONIC, then sleep OFF_MS (the CPU goes idle, as a
// server's does between datagrams). It prints every wake-up later than THRESH_US past the
// requested sleep, and every gap above THRESH_US between two clock reads while spinning, with
// the time since the start: a stall that recurs on a timer shows as a steady spacing.
// Spinning ON_MS of every ON_MS + OFF_MS stays under the kernel's RT throttling (95%).
//
// usage: stall CPU SECS THRESH_US ON_MS OFF_MS       e.g. stall 0 8 500 0.2 0.1
// build: gcc -O2 -o stall bench/serve/stall.c
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define MAX_EVENTS 100000
static double at[MAX_EVENTS], len[MAX_EVENTS];
static int late[MAX_EVENTS];

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s CPU SECS THRESH_US ON_MS OFF_MS\n", argv[0]);
        return 2;
    }
    int cpu = atoi(argv[1]);
    double secs = atof(argv[2]), thr = atof(argv[3]) * 1e-6, on = atof(argv[4]) * 1e-3;
    double off = atof(argv[5]) * 1e-3;
    if (cpu < 0 || secs <= 0 || secs > 600 || thr <= 0 || on <= 0 || off <= 0 || off > 1) {
        fprintf(stderr, "stall: CPU >= 0, 0 < SECS <= 600, THRESH_US > 0, ON_MS > 0, 0 < OFF_MS <= 1000\n");
        return 2;
    }
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (sched_setaffinity(0, sizeof s, &s)) {
        perror("stall: sched_setaffinity");
        return 1;
    }
    struct sched_param p = {.sched_priority = 1};
    int fifo = sched_setscheduler(0, SCHED_FIFO, &p) == 0;
    if (!fifo)
        fprintf(stderr, "stall: not SCHED_FIFO (not root?): other tasks' time counts as stalls\n");
    double t0 = now(), end = t0 + secs, spun = 0, slept = 0;
    long n = 0, wakeups = 0;
    while (now() < end) {
        double prev = now(), start = prev, stop = prev + on;
        while (prev < stop) {
            double t = now();
            if (t - prev > thr && n < MAX_EVENTS) {
                at[n] = prev - t0, len[n] = t - prev, late[n] = 0;
                n++;
            }
            prev = t;
        }
        spun += prev - start;
        double s0 = now();
        usleep((useconds_t)(off * 1e6));
        double woke = now(), over = woke - s0 - off;
        slept += woke - s0;
        wakeups++;
        if (over > thr && n < MAX_EVENTS) {
            at[n] = s0 - t0, len[n] = over, late[n] = 1;
            n++;
        }
    }
    for (long i = 0; i < n; i++)
        printf("cpu%d %s %.3f ms at %.4f s\n", cpu, late[i] ? "late wake-up" : "gap while spinning",
               len[i] * 1e3, at[i]);
    printf("cpu%d (%s): %ld event(s) above %.0f us in %.1f s (%.1f s spinning, %ld sleeps)\n", cpu,
           fifo ? "SCHED_FIFO" : "normal priority", n, thr * 1e6, spun + slept, spun, wakeups);
    return 0;
}
