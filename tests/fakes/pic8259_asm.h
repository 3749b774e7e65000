/* SPDX-License-Identifier: MIT */
/*
 * The 8259 pair's set-up for the tests' real-mode KVM guests, as
 * assembler text for a top-level __asm__: the master (ICW1 edge + ICW4,
 * slave on IRQ 2, 8086 mode) at vector `master` with the IRQ lines whose
 * bits are clear in `mask` unmasked; the slave at vector `slave`, all
 * masked.  The numbers are string literals ("0x20").  Clobbers %al.
 */
#ifndef HCVS_TEST_PIC8259_ASM_H
#define HCVS_TEST_PIC8259_ASM_H

#define PIC8259_INIT_ASM(master, slave, mask)				\
"	movb	$0x11, %al\n"						\
"	outb	%al, $0x20\n"						\
"	movb	$" master ", %al\n"					\
"	outb	%al, $0x21\n"						\
"	movb	$0x04, %al\n"						\
"	outb	%al, $0x21\n"						\
"	movb	$0x01, %al\n"						\
"	outb	%al, $0x21\n"						\
"	movb	$" mask ", %al\n"					\
"	outb	%al, $0x21\n"						\
"	movb	$0x11, %al\n"						\
"	outb	%al, $0xa0\n"						\
"	movb	$" slave ", %al\n"					\
"	outb	%al, $0xa1\n"						\
"	movb	$0x02, %al\n"						\
"	outb	%al, $0xa1\n"						\
"	movb	$0x01, %al\n"						\
"	outb	%al, $0xa1\n"						\
"	movb	$0xff, %al\n"						\
"	outb	%al, $0xa1\n"

#endif /* HCVS_TEST_PIC8259_ASM_H */
