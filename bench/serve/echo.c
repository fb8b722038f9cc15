/* A trivial UDP echo server: the CPU-per-packet ceiling for bench/serve/run.sh.
 * One thread, blocking recvfrom/sendto, one datagram per system call each way, no batching:
 * what any UDP server must at least do per query. It sets QR in the header so that dnsperf
 * counts the echo as an answer to its query (same ID, same question, no records).
 *   cc -O2 -o echo echo.c && ./echo 127.0.0.1 53531
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ADDR PORT\n", argv[0]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) { perror("socket"); return 1; }
    int one = 1, buf = 8 << 20;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf); /* like dnspect: 8 MiB asked */
    setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[2]));
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { fprintf(stderr, "bad address\n"); return 2; }
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    unsigned char b[65536];
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        ssize_t n = recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&peer, &pl);
        if (n < 12) continue;
        b[2] |= 0x80; /* QR */
        b[3] |= 0x80; /* RA */
        sendto(s, b, (size_t)n, 0, (struct sockaddr *)&peer, pl);
    }
}
