fn main() {
    println!("dnspect");
}
