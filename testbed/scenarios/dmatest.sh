# The kernel's own dmatest client against the software engine with N
# channels, with and without DMA_PRIVATE (see testbed/swdma/dmatest.sh).
exec sh ./dmatest-run.sh -k /modules/swdma.ko -d /modules/dmatest.ko -p "1 0" "$@"
