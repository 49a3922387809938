import pytest

from gptoss_facts.gpus import H100, L40S, MIN_COMPUTE_CAPABILITY
from gptoss_facts.instances import INSTANCE_TYPES, get_instance_type


def test_the_presets_instances_hold_what_issue_4_says() -> None:
    p5_small = get_instance_type("ml.p5.4xlarge")
    assert (p5_small.gpu, p5_small.gpu_count, p5_small.gpu_memory_gib) == (H100, 1, 80)
    p5_big = get_instance_type("ml.p5.48xlarge")
    assert (p5_big.gpu, p5_big.gpu_count, p5_big.gpu_memory_gib) == (H100, 8, 640)
    g6e = get_instance_type("ml.g6e.xlarge")
    assert (g6e.gpu, g6e.gpu_count, g6e.gpu_memory_gib) == (L40S, 1, 48)


def test_every_row_is_a_sagemaker_name_with_a_source_and_regions() -> None:
    for name, row in INSTANCE_TYPES.items():
        assert name == row.name
        assert name.startswith("ml.")
        assert row.gpu_count in (1, 2, 4, 8)
        assert row.source
        assert row.hosting_regions, name
        assert all(region.count("-") >= 2 for region in row.hosting_regions)


def test_every_gpu_hosting_type_has_local_nvme_so_none_takes_a_kms_key() -> None:
    assert all(row.local_nvme for row in INSTANCE_TYPES.values())


def test_ec2_names_are_accepted() -> None:
    assert get_instance_type("p5.4xlarge") is INSTANCE_TYPES["ml.p5.4xlarge"]


def test_an_unknown_size_lists_the_known_sizes_of_its_family() -> None:
    with pytest.raises(KeyError, match=r"ml\.p5\.4xlarge, ml\.p5\.48xlarge"):
        get_instance_type("ml.p5.2xlarge")


def test_an_unknown_family_lists_the_known_families() -> None:
    with pytest.raises(KeyError, match="known families: g4dn, g5, g6, g6e, g7e, p4d"):
        get_instance_type("ml.m5.xlarge")


def test_native_mxfp4_starts_at_hopper_and_t4_is_below_the_minimum() -> None:
    assert H100.has_native_mxfp4
    assert not L40S.has_native_mxfp4
    assert get_instance_type("ml.g4dn.xlarge").gpu.compute_capability < MIN_COMPUTE_CAPABILITY


def test_region_offers_distinguish_the_two_p5_sizes() -> None:
    # The Price List offers the 48xlarge in us-east-1 but lists no 4xlarge hosting there.
    assert get_instance_type("ml.p5.48xlarge").offered_in("us-east-1")
    assert not get_instance_type("ml.p5.4xlarge").offered_in("us-east-1")
    assert get_instance_type("ml.p5.4xlarge").offered_in("us-west-2")
