// Prints the size and field offsets of every type in vmem.h and the enum values, for the
// test to compare with the Rust definitions.

#include "vmem.h"

#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf("sizeof %s %zu\n", #T, sizeof(T))
#define FIELD(T, f) printf("offsetof %s.%s %zu\n", #T, #f, offsetof(T, f))
#define VALUE(v) printf("value %s %d\n", #v, (int)(v))

int main(void) {
    SIZE(VMemSize);
    SIZE(VMemResult);
    SIZE(VMemProtect);
    SIZE(VMemUsageStatus);
    FIELD(VMemUsageStatus, total_physical_bytes);
    FIELD(VMemUsageStatus, avail_physical_bytes);
    SIZE(VMemRangeInfo);
    FIELD(VMemRangeInfo, ptr);
    FIELD(VMemRangeInfo, size_bytes);
    FIELD(VMemRangeInfo, is_commited);
    FIELD(VMemRangeInfo, protect);
    SIZE(VMemArena);
    FIELD(VMemArena, mem);
    FIELD(VMemArena, size_bytes);
    FIELD(VMemArena, commited);
    FIELD(VMemArena, used);
    SIZE(VMemGrowArenaConfig);
    FIELD(VMemGrowArenaConfig, block_size);
    FIELD(VMemGrowArenaConfig, commit_step);
    FIELD(VMemGrowArenaConfig, max_bytes);
    FIELD(VMemGrowArenaConfig, retain_bytes);
    FIELD(VMemGrowArenaConfig, huge_pages);
    FIELD(VMemGrowArenaConfig, no_prefault);
    SIZE(VMemGrowArenaMark);
    VALUE(VMemResult_Error);
    VALUE(VMemResult_Success);
    VALUE(VMemProtect_Invalid);
    VALUE(VMemProtect_NoAccess);
    VALUE(VMemProtect_Read);
    VALUE(VMemProtect_ReadWrite);
    VALUE(VMemProtect_Execute);
    VALUE(VMemProtect_ExecuteRead);
    VALUE(VMemProtect_ExecuteReadWrite);
    VALUE(VMemProtect_COUNT);
    return 0;
}
