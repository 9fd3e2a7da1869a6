/*
 * Interrupts: the in-kernel irqchip (8259 PICs, IOAPIC, local APIC),
 * programmed as include/pvmm/para.h promises, and irqfds that let the I/O
 * thread raise a device interrupt without a trip through the vCPU thread.
 */
#ifndef PVMM_IRQ_H
#define PVMM_IRQ_H

#include <stdbool.h>

#include <linux/kvm.h>

#include "vm.h"

/* IOAPIC pins handed to devices (the legacy pins below 16 stay free for
 * the emulated ISA devices: UART 4, IDE 14). */
#define IRQ_FIRST_DEVICE_PIN 16
#define IRQ_LAST_DEVICE_PIN 23

/* KVM_CREATE_IRQCHIP; must come before the vCPU is created. */
int irq_create_chip(struct vm *vm);

/* After the vCPUs exist: PICs masked, every vCPU's LAPIC enabled, each
 * allocated pin routed edge-triggered to PVMM_IRQ_VECTOR_BASE + pin on
 * its CPU (irq_route; CPU 0 unless routed elsewhere). */
int irq_setup(struct vm *vm);

/* Send `pin`'s interrupts to vCPU `cpu` (its APIC ID is its index). Before
 * irq_setup() it is remembered; after, the IOAPIC is reprogrammed at once.
 * Returns 0, or -1 for a pin or CPU out of range (or a failed ioctl). */
int irq_route(struct vm *vm, unsigned pin, unsigned cpu);

/* Allocate a device pin; -1 when all are taken. */
int irq_alloc_pin(struct vm *vm);

/* Claim a fixed pin (an emulated ISA device's: UART 4, IDE 14) so that
 * irq_setup() routes it like the others. -1 if out of range or taken. */
int irq_claim_pin(struct vm *vm, unsigned pin);

/* Drive `pin` to `level` (KVM_IRQ_LINE), for devices that model a wire on
 * the vCPU or I/O thread rather than an irqfd. Edge-triggered routing
 * takes the 0 -> 1 transitions. Returns 0 or -1 (logged once). */
int irq_set_level(struct vm *vm, unsigned pin, int level);

/* Deliver an interrupt on `pin` whenever `eventfd` is written. */
int irq_attach_eventfd(struct vm *vm, unsigned pin, int eventfd);
/* Undo irq_attach_eventfd (a device going away). */
void irq_detach_eventfd(struct vm *vm, unsigned pin, int eventfd);
/* Give back a pin from irq_alloc_pin() or irq_claim_pin(). */
void irq_free_pin(struct vm *vm, unsigned pin);

/* ---- MSI (virtio-pci's MSI-X vectors) ------------------------------------
 *
 * Each vector is a GSI of its own above the IOAPIC's, with an irqfd on it,
 * routed by KVM_SET_GSI_ROUTING to the address/data the guest wrote.
 * Setting the routing table replaces KVM's default one, so the table
 * always carries the IOAPIC (and, below 16, PIC) routes of the pins in use
 * as well. Callers serialize (the PCI host's lock). */

/* A GSI for one MSI vector, unrouted; -1 when all VM_IRQ_MSI_MAX are taken. */
int irq_alloc_msi(struct vm *vm);
/* True if address/data is an MSI pvmm routes: to the local APICs
 * (0xfee00000..0xfeefffff, high half 0), fixed or lowest-priority
 * delivery, a vector of 16 or more. */
bool irq_msi_valid(uint32_t addr_lo, uint32_t addr_hi, uint32_t data);
/* Route `gsi` to that message (it must be irq_msi_valid), or unroute it
 * (valid false): its irqfd then delivers nothing. Pushes the table to KVM
 * when the VM has an irqchip. 0, or -1 (logged). */
int irq_set_msi(struct vm *vm, unsigned gsi, bool valid, uint32_t addr_lo, uint32_t addr_hi, uint32_t data);
/* A kernel guest (linux_platform.c): every GSI below 24 routed as on a
 * PC, whether a device holds the pin or not (the kernel programs the
 * PICs and IOAPIC itself): ISA IRQ n to PIC input n and IOAPIC pin n, but
 * IRQ 0, the PIT, to IOAPIC pin 2, which the MADT's interrupt source
 * override tells the kernel. Pushes the table to KVM now. 0, or -1 logged. */
int irq_set_isa_wiring(struct vm *vm);
/* The routing table KVM gets: the pin routes, then every valid MSI route.
 * Fills at most `max` entries; returns how many. */
unsigned irq_build_routes(const struct vm *vm, struct kvm_irq_routing_entry *out, unsigned max);
#define IRQ_ROUTES_MAX (24 + 16 + VM_IRQ_MSI_MAX)
/* Deliver on `gsi` whenever `eventfd` is written, and undo it. */
int irq_attach_gsi_eventfd(struct vm *vm, unsigned gsi, int eventfd);
void irq_detach_gsi_eventfd(struct vm *vm, unsigned gsi, int eventfd);

#endif
