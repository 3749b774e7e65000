/* SPDX-License-Identifier: MIT */
/* PVH entry for the Xen end-to-end test guest: own GDT, stack, then C. */

#define XEN_ELFNOTE_PHYS32_ENTRY	18

	.section .note.Xen, "a", @note
	.p2align 2
	.long	4			/* namesz: "Xen\0" */
	.long	4			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.long	pvh_entry

	/* Xen leaves the selectors undefined: load a known flat GDT first. */
	.macro	flat_segments
	cli
	cld
	lgdt	gdt_desc
	ljmp	$0x08, $1f
1:	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	.endm

	.text
	.code32
	.globl	pvh_entry
pvh_entry:
	flat_segments
	movl	$boot_stack_top, %esp
	pushl	%ebx			/* struct hvm_start_info * */
	call	pvh_main
2:	cli
	hlt
	jmp	2b

	/* Secondary vCPUs start here (VCPUOP_initialise): esp is set. */
	.globl	pvh_ap_entry
pvh_ap_entry:
	flat_segments
	call	pvh_ap_main
2:	cli
	hlt
	jmp	2b

	/* One 16-byte stub per vector, so the handler knows which fired. */
	.p2align 4
	.globl	pvh_isr_stubs
pvh_isr_stubs:
	.set	vec, 0
	.rept	256
	.p2align 4
	pushl	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	pushal
	movl	32(%esp), %eax		/* vector */
	pushl	%eax
	call	pvh_isr
	addl	$4, %esp
	popal
	addl	$4, %esp
	iret

	.section .rodata
	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat data */
gdt_end:
	.p2align 2
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.bss
	.p2align 4
	.space	16384
boot_stack_top:
	.globl	boot_stack_top

	.section .note.GNU-stack, "", @progbits
