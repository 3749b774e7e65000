/* SPDX-License-Identifier: MIT */
/*
 * Guest programs for test_notify_kvm_vcpu, assembled as data by a
 * file-scope asm block (so the build needs no assembler rule): the test
 * copies the bytes between the *_start and *_end labels into guest RAM.
 * Both are position-independent (the real-mode one relative to its CS).
 */
#include "pic8259_asm.h"

__asm__(
"	.section .rodata\n"
/*
 * Native 64-bit user mode.  %rdi points at a script of
 *	struct { uint64_t kind, addr, value, repeat; }
 * entries ended by kind 0.  kind 1/2/4: out of that width to port addr;
 * 0x11/0x12/0x14/0x18: MMIO store of that width to addr.  Afterwards an
 * `out` to port 0x5ff tells the host the script is done.
 */
"	.code64\n"
"	.globl	nkg_user64_start\n"
"	.globl	nkg_user64_end\n"
"nkg_user64_start:\n"
".Lop:\n"
"	movq	0(%rdi), %r8\n"	/* kind */
"	testq	%r8, %r8\n"
"	jz	.Ldone\n"
"	movq	8(%rdi), %rdx\n"	/* port or address */
"	movq	16(%rdi), %rax\n"	/* value */
"	movq	24(%rdi), %rcx\n"	/* repeat */
".Lrep:\n"
"	testq	%rcx, %rcx\n"
"	jz	.Lnext\n"
"	cmpq	$1, %r8\n"
"	jne	1f\n"
"	outb	%al, %dx\n"
"	jmp	.Lcount\n"
"1:	cmpq	$2, %r8\n"
"	jne	2f\n"
"	outw	%ax, %dx\n"
"	jmp	.Lcount\n"
"2:	cmpq	$4, %r8\n"
"	jne	3f\n"
"	outl	%eax, %dx\n"
"	jmp	.Lcount\n"
"3:	cmpq	$0x11, %r8\n"
"	jne	4f\n"
"	movb	%al, (%rdx)\n"
"	jmp	.Lcount\n"
"4:	cmpq	$0x12, %r8\n"
"	jne	5f\n"
"	movw	%ax, (%rdx)\n"
"	jmp	.Lcount\n"
"5:	cmpq	$0x14, %r8\n"
"	jne	6f\n"
"	movl	%eax, (%rdx)\n"
"	jmp	.Lcount\n"
"6:	movq	%rax, (%rdx)\n"	/* 0x18 */
".Lcount:\n"
"	decq	%rcx\n"
"	jmp	.Lrep\n"
".Lnext:\n"
"	addq	$32, %rdi\n"
"	jmp	.Lop\n"
".Ldone:\n"
"	movw	$0x5ff, %dx\n"
"	outb	%al, %dx\n"
"	jmp	.Ldone\n"
"nkg_user64_end:\n"
/*
 * Real mode, loaded at linear 0x8000 and entered at CS 0x0800, IP 0.
 * Installs an IVT handler for IRQ 5 (vector 0x25 after the 8259 is
 * remapped to 0x20), programs both 8259s with only IRQ 5 unmasked, says
 * "ready" on port 0x5fe, then sleeps in hlt with interrupts on.  The
 * handler counts its runs in the word at linear 0x500, sends EOI and
 * reports the count on port 0x5fd.
 */
"	.code16\n"
"	.globl	nkg_real_start\n"
"	.globl	nkg_real_end\n"
"nkg_real_start:\n"
"	cli\n"
"	xorw	%ax, %ax\n"
"	movw	%ax, %ds\n"
"	movw	%ax, %ss\n"
"	movw	$0x7000, %sp\n"
"	movw	$0, 0x500\n"
"	movw	$(.Lrm_handler - nkg_real_start), 0x94\n"	/* IVT[0x25].ip */
"	movw	%cs, %ax\n"
"	movw	%ax, 0x96\n"	/* IVT[0x25].cs */
PIC8259_INIT_ASM("0x20", "0x28", "0xdf")	/* only IRQ 5 */
"	movw	$0x5fe, %dx\n"
"	outb	%al, %dx\n"	/* ready */
"	sti\n"
".Lrm_sleep:\n"
"	hlt\n"
"	jmp	.Lrm_sleep\n"
".Lrm_handler:\n"
"	pushw	%ax\n"
"	pushw	%dx\n"
"	incw	0x500\n"
"	movb	$0x20, %al\n"
"	outb	%al, $0x20\n"	/* EOI */
"	movw	0x500, %ax\n"
"	movw	$0x5fd, %dx\n"
"	outb	%al, %dx\n"
"	popw	%dx\n"
"	popw	%ax\n"
"	iret\n"
"nkg_real_end:\n"
"	.code64\n"	/* back to the mode the compiler emits */
"	.previous\n"
);
