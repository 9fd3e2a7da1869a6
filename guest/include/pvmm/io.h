/*
 * x86 port I/O for driver writers: the emulated devices (the 16550A UART,
 * the IDE disk) live in I/O port space. Every access is an exit to the
 * monitor (~10 us without VT-x), which is what those devices cost; the
 * para-API and virtio paths exist to avoid them.
 *
 * String forms: `rep insw` is served in batches (KVM reads ahead up to
 * about a kilobyte per exit), `rep outsw` one word per exit, as on any
 * KVM host.
 */
#ifndef PVMM_IO_H
#define PVMM_IO_H

#include <stddef.h>
#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* `rep insw`: `words` 16-bit reads from `port` into buf. */
static inline void insw(uint16_t port, void *buf, size_t words)
{
	__asm__ volatile("rep insw" : "+D"(buf), "+c"(words) : "d"(port) : "memory");
}

/* `rep outsw`: `words` 16-bit writes to `port` from buf. */
static inline void outsw(uint16_t port, const void *buf, size_t words)
{
	__asm__ volatile("rep outsw" : "+S"(buf), "+c"(words) : "d"(port) : "memory");
}

#endif /* PVMM_IO_H */
